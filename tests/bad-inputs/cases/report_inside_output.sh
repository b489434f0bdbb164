# A report path inside the Hugging Face output directory (or the output itself): the report would
# become a file of the output that its manifest does not list; refused before anything is written.
OUTPUT=$T/merged/
REPORT=$T/merged/report.json
ARGS=(merge --base "$DATA/hf/base" --model "$DATA/hf/ft-1" --output "$OUTPUT" --report "$REPORT")
STATUS=2
EXPECT=("report '$T/merged/report.json' would be inside the output '$T/merged/': choose a path beside it")

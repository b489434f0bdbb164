# An output mpimerge wrote, then changed by hand (a file added to the directory): --overwrite no
# longer can prove it owns all of it, and refuses it.
OUTPUT=$T/merged/
prepare merge --base "$DATA/hf/base" --model "$DATA/hf/ft-1" --output "$OUTPUT"
echo '{"note": "mine"}' >"$T/merged/my_config.json"
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/hf/base" --model "$DATA/hf/ft-1" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/merged/' is not one mpimerge wrote, so --overwrite leaves it alone: it is a directory holding my_config.json, which mpimerge did not write")

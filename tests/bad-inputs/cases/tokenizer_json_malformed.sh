# tokenizer_source: union over a model whose tokenizer.json is cut off mid-file: one line naming the
# file, on every rank (rank 0 reads it, every rank parses the same bytes), nothing written.
cp -r "$DATA/hf/base" "$T/base"
cp -r "$DATA/hf/ft-1" "$T/ft-1"
/usr/bin/python3 -c '
import json, sys
vocab = {"t%d" % i: i for i in range(257)}
json.dump({"model": {"type": "WordLevel", "vocab": vocab}, "added_tokens": []}, open(sys.argv[1], "w"))
' "$T/base/tokenizer.json"
head -c 300 "$T/base/tokenizer.json" >"$T/ft-1/tokenizer.json"
printf 'merge_method: task_arithmetic\nbase_model: %s\nmodels:\n  - model: %s\n    parameters: {weight: 1}\ntokenizer_source: union\n' \
  "$T/base" "$T/ft-1" >"$T/job.yml"
OUTPUT=$T/out
ARGS=(merge --config "$T/job.yml" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1/tokenizer.json: not valid JSON")

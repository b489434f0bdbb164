# tokenizer_source: union over a model whose tokenizer.json puts tokens at ids past its embedding's
# rows (no config.json vocab_size to leave them out, as mergekit would): refused naming the model,
# the tensor, its rows and the token, before any row is read.
cp -r "$DATA/hf/base" "$T/base"
cp -r "$DATA/hf/ft-1" "$T/ft-1"
for m in base:257 ft-1:300; do
  /usr/bin/python3 -c '
import json, sys
vocab = {"t%d" % i: i for i in range(int(sys.argv[2]))}
json.dump({"model": {"type": "WordLevel", "vocab": vocab}, "added_tokens": []}, open(sys.argv[1], "w"))
' "$T/${m%%:*}/tokenizer.json" "${m##*:}"
done
printf 'merge_method: task_arithmetic\nbase_model: %s\nmodels:\n  - model: %s\n    parameters: {weight: 1}\ntokenizer_source: union\n' \
  "$T/base" "$T/ft-1" >"$T/job.yml"
OUTPUT=$T/out
ARGS=(merge --config "$T/job.yml" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1: 'model.embed_tokens.weight' has 257 rows, but its tokenizer puts 't299' at id 299")

# --lambda 1e9 is finite in float32, but float16 holds at most 65504: 95% of the values would be
# infinite. Refused, naming the tensor, --out-dtype float16 and the scale that led there.
ARGS=(merge --method task_arithmetic --lambda 1e9 --out-dtype float16 --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5"
      --output "$OUTPUT")
STATUS=1
EXPECT=("tensor 'model.embed_tokens.weight': " " of 49344 merged values overflow float16, the output dtype (--out-dtype float16), with --lambda 1e9")

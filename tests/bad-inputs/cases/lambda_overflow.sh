# A huge but finite --lambda makes every merged value infinite: refused before the rename, naming
# the tensor and the parameter, exit 1, no output (it was written with exit 0 before).
ARGS=(merge --method task_arithmetic --lambda 1e39 --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$OUTPUT: tensor 'model.embed_tokens.weight': 49344 of 49344 merged values are not finite: the merge overflows float32 with --lambda 1e39; nothing is written (pass --allow-nonfinite")

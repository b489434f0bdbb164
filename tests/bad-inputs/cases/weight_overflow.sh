# A huge --weight of one model: refused, naming that model's weight.
ARGS=(merge --method task_arithmetic --weight 1 --weight 1e39 --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5"
      --model "$DATA/set/ft-2.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("tensor 'model.embed_tokens.weight'" "the merge overflows float32 with weight of model 2 (--weight 1e39)")

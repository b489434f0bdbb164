# The methods that merge each matrix whole on one rank (tsv_m, iso_c, iso_cts) count the values
# their output dtype cannot hold as the sliced merges do: --lambda 1e9 into float16 is refused
# before the rename, naming the dtype and the scale (it was written with infinities and exit 0).
ARGS=(merge --method tsv_m --lambda 1e9 --out-dtype float16 --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5"
      --model "$DATA/set/ft-2.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("merged values overflow float16, the output dtype (--out-dtype float16), with --lambda 1e9" "nothing is written")

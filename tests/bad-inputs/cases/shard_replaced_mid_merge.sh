# One shard of a Hugging Face model directory replaced (a new file moved over it) while the merge
# runs: every shard is pinned, the error names the shard, exit 1, no output.
cp -r "$DATA/hf/ft-1" "$T/ft-1"
shard=$(ls "$T/ft-1" | grep -m1 'model-00002-of')
export MPIMERGE_FAULT="commit:0:0:run:cp '$T/ft-1/$shard' '$T/new' && mv '$T/new' '$T/ft-1/$shard'"
ARGS=(merge --base "$DATA/hf/base" --model "$T/ft-1" --output "$OUTPUT")
STATUS=1
EXPECT=("model 1 '$T/ft-1': $shard changed while the merge read it (it was replaced by another file)")
CHANGED=("$T/ft-1/$shard")  # the fault hook's doing

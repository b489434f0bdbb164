# An output file that is a shard of a Hugging Face model, the model given as its directory.
cp -r "$DATA/hf/ft-1" "$T/ft-1"
shard=$(ls "$T/ft-1" | grep -m1 'model-00001-of')
OUTPUT=$T/ft-1/$shard
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/hf/base" --model "$T/ft-1" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/ft-1/$shard' would replace a file of model 1 '$T/ft-1'")

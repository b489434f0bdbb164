# A Hugging Face model whose second shard is a FIFO: refused before anything opens it.
cp -r "$DATA/hf/ft-1" "$T/ft-1"
shard=$(ls "$T/ft-1" | grep -m1 'model-00002-of')
rm "$T/ft-1/$shard"
mkfifo "$T/ft-1/$shard"
ARGS=(merge --base "$DATA/hf/base" --model "$T/ft-1" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1/$shard: a FIFO (named pipe), not a regular file")

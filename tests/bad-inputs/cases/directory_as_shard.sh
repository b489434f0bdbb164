# A Hugging Face directory whose index names a shard that is a directory, not a file.
cp -r "$DATA/hf/ft-1" "$T/ft-1"
shard=$(ls "$T/ft-1" | grep -m1 'model-00002-of')
rm "$T/ft-1/$shard"; mkdir "$T/ft-1/$shard"
ARGS=(merge --base "$DATA/hf/base" --model "$T/ft-1" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1/$shard: a directory, not a regular file")

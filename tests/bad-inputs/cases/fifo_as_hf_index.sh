# A Hugging Face model whose model.safetensors.index.json is a FIFO: refused before it is opened.
cp -r "$DATA/hf/ft-1" "$T/ft-1"
rm "$T/ft-1/model.safetensors.index.json"
mkfifo "$T/ft-1/model.safetensors.index.json"
ARGS=(merge --base "$DATA/hf/base" --model "$T/ft-1" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1/model.safetensors.index.json: a FIFO (named pipe), not a regular file")

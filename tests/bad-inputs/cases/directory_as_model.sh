# A directory where a checkpoint file is expected (an empty directory: no Hugging Face files).
mkdir "$T/empty"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/empty" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/empty: a directory without model.safetensors or model.safetensors.index.json")

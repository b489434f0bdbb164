# A Hugging Face index that maps a tensor outside the directory.
cp -r "$DATA/hf/ft-1" "$T/ft-1"
sed -i 's|"model.norm.weight": "|"model.norm.weight": "../|' "$T/ft-1/model.safetensors.index.json"
ARGS=(merge --base "$DATA/hf/base" --model "$T/ft-1" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1/model.safetensors.index.json: weight_map: tensor 'model.norm.weight' maps to '../")

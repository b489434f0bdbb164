# A safetensors header that is not JSON.
cp "$DATA/st/ft-1.safetensors" "$T/ft-1.safetensors"
$EDIT st-json "$T/ft-1.safetensors" '{"lm_head.weight": {"dtype": "BF16", "shape": [257,'
ARGS=(merge --base "$DATA/st/base.safetensors" --model "$T/ft-1.safetensors" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.safetensors: the header is not valid JSON")

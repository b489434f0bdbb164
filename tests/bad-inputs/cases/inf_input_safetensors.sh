# An infinity in the base, a safetensors file: refused by default, naming the file and the tensor.
cp "$DATA/st/base.safetensors" "$T/base.safetensors"
$EDIT st-poke "$T/base.safetensors" model.embed_tokens.weight inf
ARGS=(merge --base "$T/base.safetensors" --model "$DATA/st/ft-1.safetensors" --output "$OUTPUT")
STATUS=1
EXPECT=("base ($T/base.safetensors): tensor 'model.embed_tokens.weight' holds NaN or infinite values")

# A .safetensors file cut short: the last tensors' data_offsets run past the end of the data.
size=$(stat -c %s "$DATA/st/ft-1.safetensors")
head -c $((size - 1000)) "$DATA/st/ft-1.safetensors" >"$T/ft-1.safetensors"
ARGS=(merge --base "$DATA/st/base.safetensors" --model "$T/ft-1.safetensors" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.safetensors: tensor '" "run past the end of the data")

# A .safetensors file cut inside its header.
head -c 100 "$DATA/st/ft-1.safetensors" >"$T/ft-1.safetensors"
ARGS=(merge --base "$DATA/st/base.safetensors" --model "$T/ft-1.safetensors" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.safetensors: header length" "runs past the end of the file (100 bytes)")

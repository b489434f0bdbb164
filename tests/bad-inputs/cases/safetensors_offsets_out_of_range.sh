# A tensor whose data_offsets point past the end of the file.
cp "$DATA/st/ft-1.safetensors" "$T/ft-1.safetensors"
$EDIT st-offsets "$T/ft-1.safetensors" model.norm.weight 99999990 100000374
ARGS=(merge --base "$DATA/st/base.safetensors" --model "$T/ft-1.safetensors" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.safetensors: tensor 'model.norm.weight': data_offsets [99999990, 100000374]" "run past the end of the data")

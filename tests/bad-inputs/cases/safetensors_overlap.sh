# Two tensors sharing bytes: model.norm.weight moved onto the start of another tensor.
cp "$DATA/st/ft-1.safetensors" "$T/ft-1.safetensors"
$EDIT st-offsets "$T/ft-1.safetensors" model.norm.weight 0 384
ARGS=(merge --base "$DATA/st/base.safetensors" --model "$T/ft-1.safetensors" --output "$OUTPUT")
STATUS=1
EXPECT=("$T/ft-1.safetensors: tensor '" "overlap tensor '")

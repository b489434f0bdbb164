# A Hugging Face directory output (--overwrite) that holds a model: replacing it would delete the input.
mkdir "$T/m"; cp "$DATA/st/ft-1.safetensors" "$T/m/model.safetensors"
OUTPUT=$T/m/
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/st/base.safetensors" --model "$T/m/model.safetensors" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/m/' would replace model 1 '$T/m/model.safetensors'")

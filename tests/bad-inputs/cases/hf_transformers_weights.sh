# A Hugging Face directory whose config.json names its weights file ("transformers_weights"), which
# newer transformers load before model.safetensors or the index: so does mpimerge.
cp -r "$DATA/hf/ft-1" "$T/ft-1"
cp "$DATA/st/base.safetensors" "$T/ft-1/other.safetensors"
echo '{"model_type": "llama", "transformers_weights": "other.safetensors"}' >"$T/ft-1/config.json"
prepare merge --base "$DATA/hf/base" --model "$DATA/st/base.safetensors" --output "$T/reference.h5" --no-report
ARGS=(merge --base "$DATA/hf/base" --model "$T/ft-1" --output "$OUTPUT")
STATUS=0
check_after() { same_tensors "$OUTPUT" "$T/reference.h5"; }

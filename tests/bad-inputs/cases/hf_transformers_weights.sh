# A Hugging Face directory whose config.json names its weights file ("transformers_weights"), which
# newer transformers load before model.safetensors or the index: so does mpimerge. The output
# directory's config.json no longer names it (its weights are model.safetensors).
cp -r "$DATA/hf/ft-1" "$T/ft-1"
cp "$DATA/st/base.safetensors" "$T/ft-1/other.safetensors"
echo '{"model_type": "llama", "transformers_weights": "other.safetensors"}' >"$T/ft-1/config.json"
prepare merge --base "$DATA/hf/base" --model "$DATA/st/base.safetensors" --output "$T/reference.h5" --no-report
OUTPUT=$T/out
ARGS=(merge --base "$T/ft-1" --model "$DATA/hf/base" --output "$OUTPUT")
STATUS=0
check_after() {
  same_tensors "$OUTPUT" "$T/reference.h5"
  [ "$(cat "$OUTPUT/config.json")" = $'{\n  "model_type": "llama"\n}' ] || fail "config.json: $(cat "$OUTPUT/config.json")"
}

# A Hugging Face directory holding both model.safetensors and an index with its shards, of other
# weights (it read the shards, while transformers loads model.safetensors: silently other weights).
# Resolved as transformers' from_pretrained resolves it: model.safetensors.
cp -r "$DATA/hf/ft-1" "$T/ft-1"
cp "$DATA/st/base.safetensors" "$T/ft-1/model.safetensors"
prepare merge --base "$DATA/hf/base" --model "$DATA/st/base.safetensors" --output "$T/reference.h5" --no-report
ARGS=(merge --base "$DATA/hf/base" --model "$T/ft-1" --output "$OUTPUT")
STATUS=0
check_after() {
  same_tensors "$OUTPUT" "$T/reference.h5"
  grep -q 'model.safetensors.index.json beside it ignored, as transformers does' <(timeout 60 mpirun -n 1 "$MPIMERGE" inspect "$T/ft-1" --totals) ||
    fail "inspect does not say which layout it read"
}

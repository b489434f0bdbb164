# A job file's per-model weight of 1e300 (finite, but no float32 holds the sum): refused, naming it.
cat >"$T/job.yaml" <<YAML
merge_method: linear
models:
  - model: $DATA/set/ft-1.h5
    parameters: {weight: 1.0}
  - model: $DATA/set/ft-2.h5
    parameters: {weight: 1.0e+300}
YAML
ARGS=(merge --config "$T/job.yaml" --output "$OUTPUT")
STATUS=1
EXPECT=("tensor 'model.embed_tokens.weight'" "merged values are not finite" "weight of model 2 (1e300)")

# --output names the job file (with --overwrite): refused, the job file kept.
cat >"$T/job.yaml" <<YAML
merge_method: task_arithmetic
base_model: $DATA/set/base.h5
models:
  - model: $DATA/set/ft-1.h5
    parameters: {weight: 1.0}
YAML
OUTPUT=$T/job.yaml
KEEP_OUTPUT=1
ARGS=(merge --config "$T/job.yaml" --output "$OUTPUT" --output-format hdf5 --overwrite)
STATUS=2
EXPECT=("output '$T/job.yaml' is the job file input")

# Run from inside the output directory, with its job file there and --overwrite: the output is the
# working directory (and holds the job file), so it is refused; nothing in it is touched.
mkdir "$T/work"
cat >"$T/work/job.yaml" <<YAML
merge_method: task_arithmetic
base_model: $DATA/set/base.h5
models:
  - model: $DATA/set/ft-1.h5
    parameters: {weight: 1.0}
YAML
RUN_DIR=$T/work
OUTPUT=$T/work/
KEEP_OUTPUT=1
ARGS=(merge --config job.yaml --output . --overwrite)
STATUS=2
EXPECT=("output '.' is the working directory")

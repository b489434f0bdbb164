#!/usr/bin/env bash
# The good checkpoints the bad-input cases start from, made once per build (a CTest fixture) in
# DATA: set/{base,ft-1,ft-2}.h5 (bfloat16, Llama names), st/{base,ft-1}.safetensors (the same as
# single safetensors files) and hf/{base,ft-1}/ (Hugging Face directories, two shards each), with
# side inputs for `fisher` and `regmean` beside the HDF5 set: set/{fisher,gram}-{1,2}.h5.
# Cases copy what they break; nothing changes these files afterwards.
set -euo pipefail
MPIMERGE=${MPIMERGE:?path to the mpimerge binary}
DATA=${DATA:?where to write the inputs}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mp() { timeout 120 mpirun -n 2 --oversubscribe "$MPIMERGE" "$@" --quiet; }
rm -rf "$DATA"
mkdir -p "$DATA/st" "$DATA/hf"
mp generate --output-dir "$DATA/set" --params 1M --models 2 --vocab 257
for m in base ft-1; do
  mp convert "$DATA/set/$m.h5" "$DATA/st/$m.safetensors"
  mp convert "$DATA/set/$m.h5" "$DATA/hf/$m/" --shard-size 1MB
done
ls "$DATA/hf/base"/model-00002-of-* >/dev/null  # two shards at least
/usr/bin/python3 "$(dirname "$0")/../../scripts/side_inputs.py" "$DATA/set" 2
echo "bad-inputs: inputs in $DATA"

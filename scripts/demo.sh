#!/usr/bin/env bash
# Installs what is missing, builds, writes a small Llama-style base with three fine-tunes, and
# merges them with TIES on 2 ranks. Everything lands in demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # harmless when not root
out=demo-out
rm -rf "$out"
mpirun -n 2 --oversubscribe build/src/mpimerge generate --output-dir "$out" --params 50M --models 3 --dtype bfloat16
mpirun -n 2 --oversubscribe build/src/mpimerge merge --method ties --density 0.2 --lambda 1.0 \
  --base "$out/base.h5" --model "$out/ft-1.h5" --model "$out/ft-2.h5" --model "$out/ft-3.h5" \
  --output "$out/merged.h5" --report "$out/merged.report.json"
echo "demo: merged checkpoint in $out/merged.h5, report in $out/merged.report.json"

#!/usr/bin/env bash
# Builds and runs bench/spectral_kernels.cpp: the decompositions of the task-singular methods at
# Llama shapes (mpimerge's Gram + dsyevr route, LAPACK's dgesdd, Eigen's BDCSVD), one thread,
# float64. Prints a markdown table (the numbers in docs/performance.md, "Task-singular methods").
#   bash bench/spectral_kernels.sh [ROWS COLS ...]    (default: 1664 1664  4480 1664  384 384)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
c++ -std=c++20 -O3 -DNDEBUG -I"$root/include" -I/usr/include/eigen3 "$root/bench/spectral_kernels.cpp" \
    "$root/src/linalg/spectral.cpp" -llapacke -lopenblas -o "$out/spectral_kernels"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ $# -eq 0 ]; then set -- 1664 1664 4480 1664 384 384; fi
OPENBLAS_NUM_THREADS=1 "$out/spectral_kernels" "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit, MPI at 1-4 ranks, CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build && ctest --output-on-failure -j"$(nproc)" "$@"

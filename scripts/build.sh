#!/usr/bin/env bash
# Configures and builds mpimerge and its tests into build/ (Release). Extra arguments go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMPIMERGE_WERROR=ON "$@" >/dev/null
cmake --build build -j"$(nproc)"

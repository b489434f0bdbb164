#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit, MPI at 1-4 ranks, CLI,
# bad inputs, fuzzers). With MPIMERGE_TEST_SANITIZE=1 (as CI sets it), then builds the sanitizer
# configuration in build-asan/ and runs the unit, MPI, CLI and bad-input tests there too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" "$@")
if [ "${MPIMERGE_TEST_SANITIZE:-0}" = 1 ]; then
  bash scripts/test-sanitize.sh
fi

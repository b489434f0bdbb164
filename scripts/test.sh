#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit, MPI at 1-4 ranks, CLI,
# bad inputs, fuzzers). With MPIMERGE_TEST_SANITIZE=1 (as CI sets it), then builds the sanitizer
# configuration in build-asan/ and runs the unit tests and a set of MPI, CLI and bad-input tests
# there; the tests of that set that assert nothing more in the normal build run there only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
if [ "${MPIMERGE_TEST_SANITIZE:-0}" = 1 ]; then
  # The tests the sanitizer run repeats with every assertion (scripts/test-sanitize.sh) run there only.
  (cd build && ctest --output-on-failure -j"$(nproc)" -E "$(bash scripts/test-sanitize.sh --repeated-tests)" "$@")
  bash scripts/test-sanitize.sh
else
  (cd build && ctest --output-on-failure -j"$(nproc)" "$@")
fi

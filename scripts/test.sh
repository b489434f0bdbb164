#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit, MPI at 1-4 ranks, CLI,
# bad inputs, fuzzers). With MPIMERGE_TEST_SANITIZE=1 (as CI sets it), also builds the sanitizer
# configuration in build-asan/ (in the background, at the lowest priority, while the normal suite
# runs) and then runs the unit tests and a set of MPI, CLI and bad-input tests there; the tests of
# that set that assert nothing more in the normal build run there only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
if [ "${MPIMERGE_TEST_SANITIZE:-0}" = 1 ]; then
  # The sanitizer build compiles at the lowest CPU priority while the normal suite runs, in the CPU
  # time the tests leave idle (MPI start-up, Slurm daemons, I/O waits); its tests follow.
  nice -n 19 bash scripts/test-sanitize.sh --build-only >build/sanitize-build.log 2>&1 &
  sanitize_build=$!
  status=0
  # The tests the sanitizer run repeats with every assertion (scripts/test-sanitize.sh) run there only.
  (cd build && ctest --output-on-failure -j"$(nproc)" -E "$(bash scripts/test-sanitize.sh --repeated-tests)" "$@") || status=$?
  if ! wait "$sanitize_build"; then
    tail -40 build/sanitize-build.log
    echo "the sanitizer build failed (build/sanitize-build.log)"
    exit 1
  fi
  [ "$status" -eq 0 ] || exit "$status"
  bash scripts/test-sanitize.sh --tests-only
else
  (cd build && ctest --output-on-failure -j"$(nproc)" "$@")
fi

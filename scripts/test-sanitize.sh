#!/usr/bin/env bash
# Builds mpimerge and its tests with AddressSanitizer and UndefinedBehaviorSanitizer into
# build-asan/ (-O1 -g, every finding fatal) and runs the unit tests, then the MPI, CLI and
# bad-input tests (SANITIZE_TESTS, a ctest regex, narrows the second set; SANITIZE_EXCLUDE leaves
# tests out of it). Extra arguments go to ctest.
#
# Leaks: the unit tests run with LeakSanitizer on. The tests under mpirun run with it off
# (detect_leaks=0): Open MPI 4.1, PMIx and hwloc leave process-lifetime allocations at exit, and
# their stacks end in dlclose'd MCA components built without frame pointers ("<unknown module>"),
# so no suppression by library can match them and every rank would fail. ASan's memory errors and
# every UBSan finding stay fatal there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g" -DCMAKE_C_FLAGS_SANITIZE="-O1 -g" \
      -DMPIMERGE_SANITIZE=address,undefined -DMPIMERGE_WERROR=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
cd build-asan
asan="abort_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ASAN_OPTIONS="detect_leaks=1:$asan" ctest --output-on-failure -j"$(nproc)" -R '^unit\.' "$@"
# The numerical reference tests (numpy ports of FusionBench's and mergekit's code, minutes each)
# pin values, not memory: their code paths run under the sanitizers in the MPI and CLI tests
# (SANITIZE_EXCLUDE= runs them too).
exclude=${SANITIZE_EXCLUDE-^cli\.(svd_reference|mergekit_reference)}
ASAN_OPTIONS="detect_leaks=0:$asan" ctest --output-on-failure -j"$(nproc)" -R "${SANITIZE_TESTS:-^(mpi|cli|bad_inputs)\.}" \
  ${exclude:+-E "$exclude"} "$@"

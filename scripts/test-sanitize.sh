#!/usr/bin/env bash
# Builds mpimerge and its tests with AddressSanitizer and UndefinedBehaviorSanitizer into
# build-asan/ (-Og -g1, every finding fatal) and runs the unit tests, then a second set of MPI, CLI
# and bad-input tests chosen below. Extra arguments go to ctest.
#
# Leaks: the unit tests run with LeakSanitizer on. The tests under mpirun run with it off
# (detect_leaks=0): Open MPI 4.1, PMIx and hwloc leave process-lifetime allocations at exit, and
# their stacks end in dlclose'd MCA components built without frame pointers ("<unknown module>"),
# so no suppression by library can match them and every rank would fail. ASan's memory errors and
# every UBSan finding stay fatal there.
set -euo pipefail
cd "$(dirname "$0")/.."
# The second set runs every code path once under the sanitizers, not every test: the MPI engine
# tests at 1 and 3 ranks, and at 3 with small tensors held whole (the staging of runs of adjacent
# pieces), every bad input at 3 ranks (its parser and the ranks' agreement on the error), and the
# CLI tests that read outside bytes (safetensors, Hugging Face, HDF5 via h5py, journals, usage
# errors, the abort cleanup). The same tests at other rank counts, the numerical reference tests
# (numpy ports, minutes each, pinning values, not memory) and the Slurm tests run in the normal
# suite only: they add minutes under ASan and no code path (CI must stay under 45 minutes). The
# tests of `repeated` assert under the sanitizers all they assert in the normal build, so
# scripts/test.sh leaves them out of the normal run when this one follows (`--repeated-tests` prints
# their regex). SANITIZE_TESTS replaces the set; SANITIZE_EXCLUDE narrows it.
engine='mpi\.np(1|3)'
repeated='mpi\.held_tensors\.np3|bad_inputs\..*\.np3|cli\.(safetensors\.np1|verify\.np1|resume\.np1|direct_writes\.np1|usage_errors\.np1|abort_cleanup\.np3|mergekit_output\.np3|h5py_reference\.np2|safetensors_reference\.np3)'
if [ "${1:-}" = --repeated-tests ]; then
  echo "^($repeated)\$"
  exit 0
fi
# --build-only: configure and build, no test; --tests-only: the tests of a finished build.
step=all
case "${1:-}" in
  --build-only) step=build; shift ;;
  --tests-only) step=tests; shift ;;
esac
if [ "$step" != tests ]; then
  bash scripts/setup.sh
  # -Og -g1: line tables for the reports' stacks, at about half the compile time of -O1 -g (the
  # build below: 21.6 CPU-minutes against about 38; pipeline/vocabulary.cpp alone 47 s -> 20 s);
  # the tests run on small inputs, where the optimiser buys little.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-Og -g1" -DCMAKE_C_FLAGS_SANITIZE="-Og -g1" \
        -DMPIMERGE_SANITIZE=address,undefined -DMPIMERGE_WERROR=ON >/dev/null
  # Only what the two sets run (every_way_in_tests and the rest stay in the normal build).
  cmake --build build-asan -j"$(nproc)" --target mpimerge unit_tests mpi_tests
fi
[ "$step" != build ] || exit 0
cd build-asan
asan="abort_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ASAN_OPTIONS="detect_leaks=1:$asan" ctest --output-on-failure -j"$(nproc)" -R '^unit\.' "$@"
exclude=${SANITIZE_EXCLUDE-}
ASAN_OPTIONS="detect_leaks=0:$asan" ctest --output-on-failure -j"$(nproc)" -R "${SANITIZE_TESTS:-^($engine|$repeated)\$}" \
  ${exclude:+-E "$exclude"} "$@"

#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang into build-fuzz/ (a configuration of its own:
# the program builds with g++), replays every regression input of fuzz/regressions/NAME/, then
# fuzzes each target for FUZZ_SECONDS (default 25) seeded from fuzz/corpus/NAME/ and the test
# fixtures. A crash, leak, sanitizer report or timeout fails, leaving the input in
# build-fuzz/findings/NAME/ (add it to fuzz/regressions/NAME/ once fixed).
# Exits 77 (skipped) where clang or its libFuzzer runtime is missing. The HDF5 target links
# Debian's serial libhdf5 (libhdf5-dev, scripts/setup.sh).
#   bash scripts/fuzz.sh                  # every target
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh safetensors_header
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-25}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
fixtures=$root/../shared/fixtures

for tool in clang clang++; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool is not installed (scripts/setup.sh installs it)"; exit 77; }
done
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' >"$probe/p.cpp"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>"$probe/err"; then
  echo "skipped: clang++ cannot link -fsanitize=fuzzer (libclang-rt-dev missing?): $(head -1 "$probe/err")"
  exit 77
fi

CC=clang CXX=clang++ cmake -S . -B "$build" -DMPIMERGE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/fuzz/fuzz_*; do targets+=("$(basename "$f" | sed 's/^fuzz_//')"); done
fi

seed_fixtures() {  # NAME DIR: copies the fixture files that suit a target into DIR
  local name=$1 dir=$2
  [ -d "$fixtures" ] || return 0
  case $name in
    safetensors_header) find "$fixtures" -name '*.safetensors' -size -200k -exec cp {} "$dir/" \; ;;
    safetensors_index) find "$fixtures" -name '*.index.json' -exec cp {} "$dir/" \; ;;
    sweep_config) cp "$root"/jobs/*.yaml "$dir/" 2>/dev/null || true ;;
    tokenizer_json) find "$fixtures" -name 'tokenizer.json' -size -64k -exec cp --backup=numbered {} "$dir/" \; ;;
  esac
  local n=0
  for f in "$dir"/*; do [ -f "$f" ] && mv "$f" "$dir/fixture-$((n++))"; done
}

# One target: its regression inputs replayed, then fuzzed; prints one line, or the log and why.
fuzz_one() {
  local name=$1 bin=$build/fuzz/fuzz_$1
  if [ -d fuzz/regressions/$name ] && [ -n "$(ls -A fuzz/regressions/$name)" ]; then
    # MPIMERGE_FUZZ_IMAGES=1: the HDF5 target reads its regression inputs, HDF5 files, as file images.
    if ! MPIMERGE_FUZZ_IMAGES=1 "$bin" fuzz/regressions/$name/* >"$probe/$name.replay" 2>&1; then
      tail -30 "$probe/$name.replay"; echo "fuzz $name: FAILED on a regression input"; return 1
    fi
  fi
  local corpus=$probe/corpus-$name findings=$build/findings/$name start
  mkdir -p "$corpus" "$findings"
  [ -d fuzz/corpus/$name ] && cp fuzz/corpus/$name/* "$corpus/" 2>/dev/null || true
  seed_fixtures "$name" "$corpus"
  start=$(date +%s)
  if "$bin" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -artifact_prefix="$findings/" -print_final_stats=1 >"$probe/$name.log" 2>&1; then
    echo "fuzz $name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$probe/$name.log" | grep -o '[0-9]*$') runs in $(( $(date +%s) - start )) s, no finding"
  else
    tail -40 "$probe/$name.log"
    echo "fuzz $name: FINDING, input kept in $findings/"
    return 1
  fi
}

for name in "${targets[@]}"; do
  [ -x "$build/fuzz/fuzz_$name" ] || { echo "no fuzz target $name"; exit 1; }
done
# The targets run side by side, one per core (each fuzzer is one process): the same fuzzing time
# each, in half the wall time on two cores. Each one's output is printed whole when it ends.
failed=()
running=()
reap() {  # waits for the oldest running target
  local name=${running[0]}
  running=("${running[@]:1}")
  wait "${pids[$name]}" || failed+=("$name")
  cat "$probe/$name.out"
}
declare -A pids
for name in "${targets[@]}"; do
  [ ${#running[@]} -lt "$(nproc)" ] || reap
  fuzz_one "$name" >"$probe/$name.out" 2>&1 &
  pids[$name]=$!
  running+=("$name")
done
while [ ${#running[@]} -gt 0 ]; do reap; done
[ ${#failed[@]} -eq 0 ] || { echo "fuzzing failed: ${failed[*]}"; exit 1; }

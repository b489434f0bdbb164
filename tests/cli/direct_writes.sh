#!/usr/bin/env bash
# --output-io direct (O_DIRECT by each rank) writes the same bytes as collective MPI-IO, for HDF5
# and safetensors outputs, in memory and streamed (many small pieces per rank), merges and sweeps;
# --resume continues a direct merge; an unknown mode is a usage error.
source "$(dirname "$0")/common.sh"

run 2 generate --output-dir "$WORK/set" --params 3M --models 3 --dtype bfloat16 --vocab 1001 --quiet
expect_status 0
inputs=(--base "$WORK/set/base.h5" --model "$WORK/set/ft-1.h5" --model "$WORK/set/ft-2.h5" --model "$WORK/set/ft-3.h5")
for out in merged.h5 merged.safetensors hf/; do
  for budget in "" "--memory-budget 2M"; do
    # shellcheck disable=SC2086
    run "$RANKS" merge "${inputs[@]}" $budget --output "$WORK/mpiio-$out" --output-io mpiio --quiet
    expect_status 0
    # shellcheck disable=SC2086
    run "$RANKS" merge "${inputs[@]}" $budget --output "$WORK/direct-$out" --output-io direct --quiet
    expect_status 0
    if [ "${out: -1}" = / ]; then
      # The model card's title is the output's name; the rest is the same.
      diff -r -x README.md "$WORK/mpiio-$out" "$WORK/direct-$out" >/dev/null || fail "$out $budget: direct and mpiio differ"
      diff <(grep -v '^# ' "$WORK/mpiio-$out/README.md") <(grep -v '^# ' "$WORK/direct-$out/README.md") ||
        fail "$out $budget: the model cards differ"
    else
      cmp "$WORK/mpiio-$out" "$WORK/direct-$out" || fail "$out $budget: direct and mpiio differ"
    fi
    grep -q '"io": "direct"' "$WORK/direct-${out%/}.report.json" || fail "$out: the report does not say direct"
    grep -q '"io": "mpiio"' "$WORK/mpiio-${out%/}.report.json" || fail "$out: the report does not say mpiio"
    run 1 verify "$WORK/direct-$out"
    expect_status 0
    rm -rf "$WORK/mpiio-$out" "$WORK/direct-$out" "$WORK"/*.report.json
  done
done

# A killed direct merge resumes (direct again) to the same bytes.
run "$RANKS" merge "${inputs[@]}" --memory-budget 2M --output "$WORK/whole.h5" --quiet
expect_status 0
set +e
MPIMERGE_FAULT="tensors-done:9:$((RANKS - 1))" timeout 120 mpirun -n "$RANKS" --oversubscribe -x MPIMERGE_FAULT \
  "$MPIMERGE" merge "${inputs[@]}" --memory-budget 2M --output "$WORK/resumed.h5" --output-io direct --quiet >/dev/null 2>&1
status=$?
set -e
[ "$status" != 0 ] && [ "$status" != 124 ] || fail "the merge meant to be killed exited $status"
[ -e "$WORK/resumed.h5.partial" ] || fail "the killed merge left no partial output"
run "$RANKS" merge "${inputs[@]}" --memory-budget 2M --output "$WORK/resumed.h5" --output-io direct --resume --quiet
expect_status 0
cmp "$WORK/whole.h5" "$WORK/resumed.h5" || fail "the resumed direct merge differs"

axes=$'  method: ties\n  density: [0.1, 0.3]'
grid_file "$WORK/grid-mpiio.yaml" "$WORK/grid-mpiio" <<<"$axes"
grid_file "$WORK/grid-direct.yaml" "$WORK/grid-direct" <<<"$axes"
run "$RANKS" sweep --config "$WORK/grid-mpiio.yaml" --output-io mpiio --quiet
expect_status 0
run "$RANKS" sweep --config "$WORK/grid-direct.yaml" --output-io direct --quiet
expect_status 0
for f in "$WORK"/grid-mpiio/*.h5; do
  cmp "$f" "$WORK/grid-direct/$(basename "$f")" || fail "sweep point $(basename "$f"): direct and mpiio differ"
done

run "$RANKS" merge "${inputs[@]}" --output "$WORK/x.h5" --output-io fast
expect_status 2
expect_err "--output-io fast: expected mpiio or direct"
echo "direct writes: ok"

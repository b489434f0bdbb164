#!/usr/bin/env bash
# --resume: a merge killed at several points (one rank SIGKILLed, as by a node failure or a Slurm
# time limit) continues from its journal and ends with the same bytes as an uninterrupted merge.
source "$(dirname "$0")/common.sh"
LAST=$((RANKS - 1))

run "$RANKS" generate --output-dir "$WORK/set" --params 3M --models 3 --vocab 1001 --quiet
expect_status 0
inputs=(--base "$WORK/set/base.h5" --model "$WORK/set/ft-1.h5" --model "$WORK/set/ft-2.h5" --model "$WORK/set/ft-3.h5")
# A budget that cuts the merge into several groups, so that faults fall between tensors.
common=(--density 0.3 --memory-budget 3M --quiet)

run "$RANKS" merge "${inputs[@]}" "${common[@]}" --output "$WORK/reference.h5"
expect_status 0

# kill_and_resume FAULT OUT [RESUME_RANKS] [extra merge options...]
kill_and_resume() {
  local fault=$1 out=$2 resume_ranks=$3; shift 3
  set +e
  MPIMERGE_FAULT="$fault" timeout 120 mpirun -n "$RANKS" --oversubscribe -x MPIMERGE_FAULT "$MPIMERGE" merge \
    "${inputs[@]}" "${common[@]}" --output "$out" "$@" >"$WORK/out" 2>"$WORK/err"
  local status=$?
  set -e
  [ "$status" != 0 ] || fail "$fault: the killed merge exited 0"
  [ "$status" != 124 ] || fail "$fault: the killed merge hung"
  [ ! -e "$out" ] || fail "$fault: a killed merge left something at the output path"
  [ -e "${out%/}.partial" ] || fail "$fault: no partial output to resume"
  [ -e "${out%/}.partial.journal" ] || fail "$fault: no journal"
  run "$resume_ranks" merge "${inputs[@]}" "${common[@]}" --output "$out" --resume "$@"
  expect_status 0
  [ ! -e "${out%/}.partial" ] && [ ! -e "${out%/}.partial.journal" ] || fail "$fault: resume left its partial files"
}

for fault in "analysis:0:$LAST" "tensors-done:1:$LAST" "tensors-done:9:$LAST" "commit:0:$LAST"; do
  kill_and_resume "$fault" "$WORK/resumed.h5" "$RANKS"
  cmp "$WORK/reference.h5" "$WORK/resumed.h5" || fail "$fault: the resumed output differs"
  rm -f "$WORK/resumed.h5" "$WORK/resumed.h5.report.json"
done

# Resumed with another number of ranks: the journal counts tensors, not ranks' rows.
kill_and_resume "tensors-done:5:$LAST" "$WORK/resumed.h5" 2
cmp "$WORK/reference.h5" "$WORK/resumed.h5" || fail "resuming at 2 ranks: the output differs"

# A Hugging Face directory resumes too.
run "$RANKS" merge "${inputs[@]}" "${common[@]}" --output "$WORK/reference-hf/" --output-format safetensors
expect_status 0
kill_and_resume "tensors-done:4:$LAST" "$WORK/resumed-hf/" "$RANKS" --output-format safetensors
# The model card's title is the output's name; the rest is the same.
diff -r -x README.md "$WORK/reference-hf" "$WORK/resumed-hf" || fail "the resumed Hugging Face directory differs"
diff <(grep -v '^# ' "$WORK/reference-hf/README.md") <(grep -v '^# ' "$WORK/resumed-hf/README.md") ||
  fail "the resumed output's model card differs"

# The journal's points (each a sync of the output) come about once per quarter of the output, not
# after each of the merge's groups.
set +e
MPIMERGE_FAULT="commit:0:$LAST" timeout 120 mpirun -n "$RANKS" --oversubscribe -x MPIMERGE_FAULT "$MPIMERGE" merge \
  "${inputs[@]}" --density 0.3 --memory-budget "$((RANKS >= 3 ? 1 : 3))M" --output "$WORK/counted.h5" >"$WORK/out" 2>&1
set -e
groups=$(sed -n 's/.*: \([0-9]*\) groups.*/\1/p' "$WORK/out")
points=$(grep -c '"done"' "$WORK/counted.h5.partial.journal")
[ "${groups:-0}" -ge 8 ] || fail "expected a merge of 8 groups or more, got '${groups:-}': $(cat "$WORK/out")"
[ "$points" -ge 2 ] && [ "$points" -le 5 ] || fail "$points journal points for $groups groups"
rm -rf "$WORK"/counted.h5*

# Nothing to resume: a fresh merge. Another job's journal: refused.
run "$RANKS" merge "${inputs[@]}" "${common[@]}" --output "$WORK/fresh.h5" --resume
expect_status 0; cmp "$WORK/reference.h5" "$WORK/fresh.h5" || fail "a fresh --resume merge differs"
set +e
MPIMERGE_FAULT="tensors-done:2:$LAST" timeout 120 mpirun -n "$RANKS" --oversubscribe -x MPIMERGE_FAULT "$MPIMERGE" merge \
  "${inputs[@]}" "${common[@]}" --output "$WORK/other.h5" >/dev/null 2>&1
set -e
run "$RANKS" merge "${inputs[@]}" --density 0.5 --memory-budget 3M --quiet --output "$WORK/other.h5" --resume
expect_status 2; expect_one_error_line; expect_err "belongs to another merge"
echo "resume: ok at $RANKS ranks"

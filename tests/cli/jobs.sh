#!/usr/bin/env bash
# Every merge job file in jobs/ runs on small generated checkpoints (in WORK/demo-out, where the
# job files expect scripts/demo.sh's), at RANKS ranks and at 1 rank, with the same output bytes;
# command-line options override the file; mergekit keys we cannot honour are refused.
source "$(dirname "$0")/common.sh"
JOBS=$(cd "$(dirname "$0")/../../jobs" && pwd)
SCRIPTS=$(cd "$(dirname "$0")/../../scripts" && pwd)
cd "$WORK"
run 2 generate --output-dir demo-out --params 1M --models 3 --vocab 999 --seed 3 --quiet
expect_status 0
/usr/bin/python3 "$SCRIPTS/side_inputs.py" demo-out 3 || fail "side_inputs.py failed"
count=0
for job in "$JOBS"/*.yaml; do
  grep -q '^merge_method:' "$job" || continue
  name=$(basename "$job" .yaml)
  for ranks in "$RANKS" 1; do
    run "$ranks" merge --config "$job" --output "$WORK/$name-$ranks.h5" --memory-budget 2M --quiet --no-report
    expect_status 0
  done
  cmp -s "$WORK/$name-$RANKS.h5" "$WORK/$name-1.h5" || fail "$name: $RANKS ranks and 1 rank wrote different bytes"
  count=$((count + 1))
done
[ "$count" -ge 15 ] || fail "only $count merge job files in jobs/"

# The command line overrides the file: ties.yaml's mergekit TIES with --trim-scope is the paper's,
# the same as --method ties without a file.
run "$RANKS" merge --config "$JOBS/ties_paper.yaml" --density 0.3 --output "$WORK/a.h5" --quiet --no-report
expect_status 0
run "$RANKS" merge --base demo-out/base.h5 --model demo-out/ft-1.h5 --model demo-out/ft-2.h5 --model demo-out/ft-3.h5 \
  --density 0.3 --output "$WORK/b.h5" --quiet --no-report
expect_status 0
cmp -s "$WORK/a.h5" "$WORK/b.h5" || fail "--config ties_paper.yaml --density 0.3 differs from the command line's ties"

printf 'merge_method: linear\nslices:\n  - sources: [{model: a, layer_range: [0, 2]}, {model: b, layer_range: [0, 3]}]\n' >"$WORK/slices.yaml"
run "$RANKS" merge --config "$WORK/slices.yaml" --output "$WORK/c.h5"
expect_status 2
expect_one_error_line
expect_err "source 2 has 3 layers but source 1 has 2"
printf 'merge_method: linear\nmodels:\n  - model: demo-out/ft-1.h5\n    parameters: {weight: 1}\n  - model: demo-out/ft-2.h5\n' >"$WORK/noweight.yaml"
run "$RANKS" merge --config "$WORK/noweight.yaml" --output "$WORK/d.h5"
expect_status 2
expect_one_error_line
expect_err "'weight' is required for model 2"
run "$RANKS" merge --config "$JOBS/slerp.yaml" --t 1.5 --output "$WORK/e.h5"
expect_status 2
expect_err "slerp: parameter 't' (global) must be a number in [0, 1], not '1.5'"
run "$RANKS" merge --method frobnicate --base demo-out/base.h5 --model demo-out/ft-1.h5 --output "$WORK/f.h5"
expect_status 2
expect_err "unknown method 'frobnicate'"
echo "jobs: ok ($count job files)"

#!/usr/bin/env bash
# The defaults are the fast path and change no byte: a merge with no options writes the same bytes
# as with the options given explicitly (either output I/O, a small memory budget), from the command
# line, a job file and a sweep; the log and the report say which output I/O was chosen and why (the
# output's file system, or --output-io), and the working set the groups were cut to.
source "$(dirname "$0")/common.sh"

run 2 generate --output-dir "$WORK/set" --params 3M --models 3 --dtype bfloat16 --vocab 1001 --quiet
expect_status 0
inputs=(--base "$WORK/set/base.h5" --model "$WORK/set/ft-1.h5" --model "$WORK/set/ft-2.h5" --model "$WORK/set/ft-3.h5")

# What the output's file system should give (statfs f_type, as stat -f prints it in hex).
case "$(stat -f -c %t "$WORK")" in
  ef53) fs=ext4 io=direct ;;
  58465342) fs=xfs io=direct ;;
  9123683e) fs=btrfs io=direct ;;
  794c7630) fs=overlayfs io=direct ;;
  1021994) fs=tmpfs io=mpiio ;;
  *) fs="" io="" ;;
esac
local_reason="$fs is a local file system: each rank writes its rows with O_DIRECT, past the page cache (filling fresh page-cache pages costs more than the disk)"
memory_reason="$fs is held in memory: collective MPI-IO writes (there is no disk to write past)"

field() {  # field REPORT KEY...: a value of the JSON report
  /usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[k]
print(v)' "$@"
}

for out in merged.h5 merged.safetensors; do
  run "$RANKS" merge "${inputs[@]}" --output "$WORK/default-$out"
  expect_status 0
  report="$WORK/default-$out.report.json"
  chosen=$(field "$report" output io)
  reason=$(field "$report" output io_reason)
  if [ -n "$io" ]; then
    [ "$chosen" = "$io" ] || fail "$out on $fs: the default output I/O is $chosen, expected $io"
    if [ "$io" = direct ]; then expected=$local_reason; else expected=$memory_reason; fi
    [ "$reason" = "$expected" ] || fail "$out on $fs: the report gives the reason '$reason', expected '$expected'"
  else
    case "$chosen" in direct | mpiio) ;; *) fail "$out: the report's output I/O is '$chosen'" ;; esac
    [ -n "$reason" ] || fail "$out: the report gives no reason for the output I/O"
  fi
  expect_out "output  $chosen ($reason)"
  # The working set: groups of at most 8 MiB per rank, sized for throughput, or what the budget
  # leaves for slices.
  budget=$(field "$report" memory budget_per_rank)
  working_set=$(field "$report" memory working_set_per_rank)
  expected_set=$(( budget - budget / 8 < 8388608 ? budget - budget / 8 : 8388608 ))
  [ "$working_set" = "$expected_set" ] || fail "$out: working set $working_set, expected $expected_set (budget $budget)"
  case "$(field "$report" memory working_set_reason)" in
    *"groups of at most 8.39 MB per rank, sized for throughput"*) ;;
    *) fail "$out: the working set's reason does not give the rule: $(field "$report" memory working_set_reason)" ;;
  esac

  for options in "--output-io mpiio" "--output-io direct" "--output-io mpiio --memory-budget 2M" \
                 "--output-io direct --memory-budget 2M"; do
    # shellcheck disable=SC2086
    run "$RANKS" merge "${inputs[@]}" $options --output "$WORK/explicit-$out" --quiet
    expect_status 0
    cmp "$WORK/default-$out" "$WORK/explicit-$out" || fail "$out: the defaults and '$options' wrote different bytes"
    explicit_io=${options#--output-io }
    explicit_io=${explicit_io%% *}
    [ "$(field "$WORK/explicit-$out.report.json" output io)" = "$explicit_io" ] || fail "$out: '$options' did not win"
    [ "$(field "$WORK/explicit-$out.report.json" output io_reason)" = "--output-io $explicit_io" ] ||
      fail "$out: the reason for '$options' is not the option"
    rm -f "$WORK/explicit-$out" "$WORK/explicit-$out.report.json"
  done
done

# A job file: its defaults, and the same job with the options given, write the same bytes.
cat >"$WORK/job.yaml" <<YAML
merge_method: ties
base_model: $WORK/set/base.h5
models:
  - model: $WORK/set/ft-1.h5
  - model: $WORK/set/ft-2.h5
  - model: $WORK/set/ft-3.h5
parameters: {trim_scope: model, density: 0.3, lambda: 1.0, disjoint_merge: mean}
YAML
run "$RANKS" merge --config "$WORK/job.yaml" --output "$WORK/job-default.h5" --quiet
expect_status 0
run "$RANKS" merge --config "$WORK/job.yaml" --output "$WORK/job-explicit.h5" --output-io mpiio --memory-budget 2M --quiet
expect_status 0
cmp "$WORK/job-default.h5" "$WORK/job-explicit.h5" || fail "job file: the defaults and explicit options differ"
[ -z "$io" ] || [ "$(field "$WORK/job-default.h5.report.json" output io)" = "$io" ] || fail "job file: not $io by default"

# A sweep: every point the same bytes at its defaults as with the options given.
axes=$'  method: ties\n  density: [0.1, 0.3]'
grid_file "$WORK/grid-default.yaml" "$WORK/grid-default" <<<"$axes"
grid_file "$WORK/grid-explicit.yaml" "$WORK/grid-explicit" <<<"$axes"
run "$RANKS" sweep --config "$WORK/grid-default.yaml" --quiet
expect_status 0
run "$RANKS" sweep --config "$WORK/grid-explicit.yaml" --output-io mpiio --memory-budget 2M --quiet
expect_status 0
points=0
for f in "$WORK"/grid-default/*.h5; do
  cmp "$f" "$WORK/grid-explicit/$(basename "$f")" || fail "sweep point $(basename "$f"): defaults and explicit options differ"
  [ -z "$io" ] || [ "$(field "$f.report.json" output io)" = "$io" ] || fail "sweep point $(basename "$f"): not $io by default"
  points=$((points + 1))
done
[ "$points" = 2 ] || fail "expected 2 sweep points, found $points"
echo "defaults: ok"

#!/usr/bin/env bash
# Usage errors: one line, exit code 2, at any rank count, never a hang.
source "$(dirname "$0")/common.sh"

run "$RANKS" merge --bogus-option
expect_status 2; expect_one_error_line; expect_err "bogus-option"

run "$RANKS" frobnicate
expect_status 2; expect_one_error_line; expect_err "unknown command 'frobnicate'"

run "$RANKS" merge --base "$WORK/missing.h5" --model "$WORK/also-missing.h5" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "base '$WORK/missing.h5' does not exist"

run "$RANKS" generate --output-dir "$WORK/set" --params 2M --models 2 --quiet
expect_status 0
B="$WORK/set/base.h5"; M1="$WORK/set/ft-1.h5"; M2="$WORK/set/ft-2.h5"

for density in 0 -0.5 150 abc; do
  run "$RANKS" merge --base "$B" --model "$M1" --model "$M2" --density "$density" --output "$WORK/o.h5"
  expect_status 2; expect_one_error_line
done
expect_err "density"

run "$RANKS" merge --base "$B" --model "$M1" --model "$M1" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "is the same file as"

# A missing output directory is made; one that cannot be (a file stands in the way) is refused.
echo "a file" >"$WORK/afile"
run "$RANKS" merge --base "$B" --model "$M1" --output "$WORK/afile/sub/o.h5"
expect_status 2; expect_one_error_line; expect_err "output directory '$WORK/afile/sub' cannot be made: '$WORK/afile' is not a directory"

run "$RANKS" merge --model "$M1" --model "$M2" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "ties needs a base model (--base)"

run "$RANKS" merge --base "$B" --model "$M1" --method soup --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "unknown method 'soup'"

run "$RANKS" merge --base "$B" --model "$M1" --model "$M2" --output "$WORK/o.h5" --quiet
expect_status 0; [ -z "$OUT" ] || fail "--quiet printed: $OUT"
run "$RANKS" merge --base "$B" --model "$M1" --model "$M2" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "exists (pass --overwrite"

run "$RANKS" merge --help
expect_status 0
for option in --base --model --output --output-format --shard-size --method --density --lambda --trim-scope --disjoint-merge --weight --out-dtype --overwrite --report --quiet; do
  expect_out "$option"
done
run "$RANKS" --help
expect_status 0; expect_out "merge"; expect_out "generate"; expect_out "convert"; expect_out "inspect"; expect_out "diff"
echo "usage errors: ok at $RANKS ranks"

#!/usr/bin/env bash
# The same merge at 1, 2, 3 and 4 ranks writes the same bytes (rows split unevenly included).
source "$(dirname "$0")/common.sh"

run 2 generate --output-dir "$WORK/set" --params 3M --models 3 --dtype bfloat16 --vocab 1001 --quiet
expect_status 0
inputs=(--base "$WORK/set/base.h5" --model "$WORK/set/ft-1.h5" --model "$WORK/set/ft-2.h5" --model "$WORK/set/ft-3.h5")
for variant in "--trim-scope model" "--trim-scope tensor --disjoint-merge max --density 35" "--method task_arithmetic --lambda 0.3"; do
  for ranks in 1 2 3 4; do
    # shellcheck disable=SC2086
    run "$ranks" merge "${inputs[@]}" $variant --output "$WORK/merged-$ranks.h5" --quiet
    expect_status 0
  done
  for ranks in 2 3 4; do
    cmp "$WORK/merged-1.h5" "$WORK/merged-$ranks.h5" || fail "$variant: 1 rank and $ranks ranks differ"
  done
  rm -f "$WORK"/merged-*.h5
done
echo "same bytes at 1-4 ranks: ok"

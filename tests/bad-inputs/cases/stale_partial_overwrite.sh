# With --overwrite, the partial output of a killed run (16 shards of 100KB; its journal proves it
# is mpimerge's) is discarded and the merge starts afresh: the final directory holds exactly the
# new merge's files (one shard), none of the stale ones, and the same bytes as a merge from scratch.
OUTPUT=$T/merged/
kill_merge "tensors-done:3:1" merge --base "$DATA/hf/base" --model "$DATA/hf/ft-1" --output "$OUTPUT" --shard-size 100KB --memory-budget 1M
[ "$(ls "$T/merged.partial" | grep -c 'of-00016')" -ge 1 ] || fail "preparing: the killed run left no 16-shard partial output"
ARGS=(merge --base "$DATA/hf/base" --model "$DATA/hf/ft-1" --output "$OUTPUT" --overwrite --quiet)
STATUS=0
check_after() {
  [ "$(ls "$T/merged" | tr "\n" " ")" = "README.md model.safetensors " ] || fail "the output holds $(ls "$T/merged" | tr '\n' ' ')"
  [ ! -e "$T/merged.partial" ] && [ ! -e "$T/merged.partial.journal" ] && [ ! -e "$T/merged.lock" ] || fail "partial files left: $(ls "$T")"
  timeout 120 mpirun -n "$RANKS" --oversubscribe "$MPIMERGE" merge --base "$DATA/hf/base" --model "$DATA/hf/ft-1" \
    --output "$T/fresh/" --quiet || fail "the fresh merge failed"
  # The model card's title is the output's name; the rest is the same.
  diff -r -x README.md "$T/merged" "$T/fresh" || fail "the merge over a stale partial output differs from a fresh one"
  diff <(grep -v '^# ' "$T/merged/README.md") <(grep -v '^# ' "$T/fresh/README.md") || fail "the model cards differ"
}

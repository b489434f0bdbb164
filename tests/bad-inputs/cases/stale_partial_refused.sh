# A fresh merge (no --resume, no --overwrite) finds the partial output of a killed run: it does
# not reuse it (a killed Hugging Face run's stale shards once ended up in the final directory), and
# does not discard the interrupted work either: refused, saying how to go on, all left as it was.
OUTPUT=$T/merged/
ARGS=(merge --base "$DATA/hf/base" --model "$DATA/hf/ft-1" --output "$OUTPUT" --shard-size 100KB --memory-budget 1M)
kill_merge "tensors-done:3:1" "${ARGS[@]}"
partial=$(cd "$T" && find merged.partial merged.partial.journal -type f | sort | xargs md5sum)
STATUS=2
EXPECT=("'$T/merged.partial' holds an interrupted merge: continue it with --resume, or pass --overwrite to start afresh")
check_after() { [ "$(cd "$T" && find merged.partial merged.partial.journal -type f | sort | xargs md5sum)" = "$partial" ] || fail "the partial output changed"; }

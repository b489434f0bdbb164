# --resume after a model was touched since the interrupted run (same bytes, a new mtime): the
# journal's identity of the input (inode, size, mtime and ctime in ns) no longer holds, so the
# resume is refused, naming the input; the partial output and its journal are left as they were.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT" --memory-budget 1M)
kill_merge "tensors-done:3:1" "${ARGS[@]}"
touch "$T/ft-1.h5"
partial=$(md5sum "$OUTPUT.partial" "$OUTPUT.partial.journal")
ARGS+=(--resume)
STATUS=2
EXPECT=("--resume: model 1 '$T/ft-1.h5' changed since the interrupted run (it was modified)")
check_after() { [ "$(md5sum "$OUTPUT.partial" "$OUTPUT.partial.journal")" = "$partial" ] || fail "the partial output or journal changed"; }

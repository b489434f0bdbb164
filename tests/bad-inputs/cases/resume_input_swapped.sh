# --resume after a model was swapped for another fine-tune of the same size and mtime (the bug of
# issue 14: only path and size were compared, since the mtime was always 0): another inode, refused.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT" --memory-budget 1M)
kill_merge "tensors-done:3:1" "${ARGS[@]}"
cp "$DATA/set/ft-2.h5" "$T/other.h5"
[ "$(stat -c %s "$T/other.h5")" = "$(stat -c %s "$T/ft-1.h5")" ] || fail "preparing: ft-2 is not the size of ft-1"
touch -r "$T/ft-1.h5" "$T/other.h5"
mv "$T/other.h5" "$T/ft-1.h5"
ARGS+=(--resume)
STATUS=2
EXPECT=("--resume: model 1 '$T/ft-1.h5' changed since the interrupted run (it was replaced by another file)")

# --resume after a model was rewritten in place with its old mtime put back (touch -d): its ctime
# tells, and the resume is refused.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT" --memory-budget 1M)
kill_merge "tensors-done:3:1" "${ARGS[@]}"
mtime=$(stat -c %y "$T/ft-1.h5")
cat "$DATA/set/ft-2.h5" >"$T/ft-1.h5"
touch -m -d "$mtime" "$T/ft-1.h5"
ARGS+=(--resume)
STATUS=2
EXPECT=("--resume: model 1 '$T/ft-1.h5' changed since the interrupted run (its status changed")

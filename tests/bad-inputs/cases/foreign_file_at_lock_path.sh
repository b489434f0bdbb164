# A user's file where the output's lock goes (OUTPUT.lock): refused, the file left as it was.
echo "my data" >"$T/out.h5.lock"
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT")
STATUS=2
EXPECT=("'$T/out.h5.lock', where mpimerge keeps the output's lock, is a file of 8 bytes that mpimerge did not write")
check_after() { [ "$(cat "$T/out.h5.lock")" = "my data" ] || fail "the file at the lock path changed"; }

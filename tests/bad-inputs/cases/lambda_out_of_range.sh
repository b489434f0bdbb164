# A scale that is not a finite number.
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --lambda inf --output "$OUTPUT")
STATUS=2
EXPECT=("ties: parameter 'lambda' (global) must be a finite number, not 'inf'")
for l in nan -inf x; do
  set +e; timeout 120 mpirun -n "$RANKS" --oversubscribe "$MPIMERGE" merge --method task_arithmetic --base "$DATA/set/base.h5" \
    --model "$DATA/set/ft-1.h5" --lambda "$l" --output "$OUTPUT" 2>"$T/err" >/dev/null; s=$?; set -e
  [ "$s" = 2 ] && grep -q "^mpimerge: error: .*lambda" "$T/err" || fail "--lambda $l: exit $s, $(cat "$T/err")"
done
rm -f "$T/err"

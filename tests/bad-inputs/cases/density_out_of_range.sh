# Densities outside (0, 1] and (1, 100], and one that is not a number.
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --density 0 --output "$OUTPUT")
STATUS=2
EXPECT=("ties: parameter 'density' (global) must be a fraction in (0, 1] or a percentage in (1, 100], not '0'")
for d in -0.5 150 nan inf abc; do
  set +e; timeout 120 mpirun -n "$RANKS" --oversubscribe "$MPIMERGE" merge --base "$DATA/set/base.h5" \
    --model "$DATA/set/ft-1.h5" --density "$d" --output "$OUTPUT" 2>"$T/err" >/dev/null; s=$?; set -e
  [ "$s" = 2 ] && grep -q "^mpimerge: error: .*density" "$T/err" || fail "--density $d: exit $s, $(cat "$T/err")"
done
rm -f "$T/err"

# average: a negative weight, a weight that is not finite, weights summing to 0, more weights than models
# (one --weight is every model's).
base=(merge --method average --model "$DATA/set/ft-1.h5" --model "$DATA/set/ft-2.h5" --output "$OUTPUT")
ARGS=("${base[@]}" --weight 1 --weight -0.5)
STATUS=2
EXPECT=("average: parameter 'weight' (model 2) must be a finite number >= 0, not '-0.5'")
for w in "1 nan" "inf 1" "0 0" "1 2 3"; do
  wargs=(); for x in $w; do wargs+=(--weight "$x"); done
  set +e; timeout 120 mpirun -n "$RANKS" --oversubscribe "$MPIMERGE" "${base[@]}" "${wargs[@]}" 2>"$T/err" >/dev/null; s=$?; set -e
  [ "$s" = 2 ] && [ "$(grep -c '^mpimerge: error: average: .*weight' "$T/err")" = 1 ] || fail "--weight $w: exit $s, $(cat "$T/err")"
done
rm -f "$T/err"

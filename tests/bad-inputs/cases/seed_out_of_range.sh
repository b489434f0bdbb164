# generate: a negative seed (Boost would wrap it to 2^64 - 1) and a model count of 0.
OUTPUT=$T/set
ARGS=(generate --output-dir "$OUTPUT" --params 1M --models 2 --seed=-1)
STATUS=2
EXPECT=("--seed -1: expected a non-negative integer")
set +e; timeout 120 mpirun -n "$RANKS" --oversubscribe "$MPIMERGE" generate --output-dir "$OUTPUT" --params 1M --models 0 2>"$T/err" >/dev/null; s=$?; set -e
[ "$s" = 2 ] && grep -q '^mpimerge: error: --models must be at least 1' "$T/err" || fail "--models 0: exit $s, $(cat "$T/err")"
rm -rf "$T/err" "$OUTPUT"

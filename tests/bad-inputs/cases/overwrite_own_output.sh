# --overwrite replaces an output mpimerge wrote (its manifest lists what it holds): a Hugging Face
# directory of many shards becomes the new merge's single file, none of the old shards is left,
# and files beside it that are not its own (a user's OUTPUT.replaced/) are left alone.
OUTPUT=$T/merged/
prepare merge --base "$DATA/hf/base" --model "$DATA/hf/ft-1" --output "$OUTPUT" --shard-size 200KB
[ "$(ls "$T/merged" | grep -c 'of-000')" -ge 5 ] || fail "preparing: expected several shards, got $(ls "$T/merged")"
mkdir "$T/merged.replaced"
echo "keep me" >"$T/merged.replaced/notes.txt"
ARGS=(merge --method task_arithmetic --base "$DATA/hf/base" --model "$DATA/hf/ft-1" --output "$OUTPUT" --overwrite --quiet)
STATUS=0
check_after() {
  [ "$(ls "$T/merged" | tr "\n" " ")" = "README.md model.safetensors " ] || fail "the output holds $(ls "$T/merged" | tr '\n' ' ')"
  grep -q '"name": "task_arithmetic"' "$T/merged.report.json" || fail "the report is not the new merge's"
  grep -q '"output":"merged"' "$T/merged.manifest.json" || fail "no manifest of the new output"
}

#!/usr/bin/env bash
# Hugging Face checkpoints in and out, as users run the program: convert both ways byte for byte,
# merge directories straight into a directory, inspect and diff, and broken inputs refused with one
# line at any rank count.
source "$(dirname "$0")/common.sh"
FIXTURES=${FIXTURES:?path to ../shared/fixtures}
L="$FIXTURES/llama-tiny-bf16"
G="$FIXTURES/gpt2-tiny-f32"

# HF -> HDF5 -> HF: the very bytes transformers wrote (the fixture was saved with 40KB shards).
run "$RANKS" convert "$L/base" "$WORK/base.h5" --quiet
expect_status 0
run "$RANKS" convert "$WORK/base.h5" "$WORK/back/" --shard-size 40KB --quiet
expect_status 0
for f in model-00001-of-00002.safetensors model-00002-of-00002.safetensors model.safetensors.index.json; do
  cmp "$WORK/back/$f" "$L/base/$f" || fail "round trip changed $f"
done
run "$RANKS" convert "$FIXTURES/dtypes.safetensors" "$WORK/dtypes.h5" --quiet
expect_status 0
run "$RANKS" convert "$WORK/dtypes.h5" "$WORK/dtypes.safetensors" --quiet
expect_status 0
cmp "$WORK/dtypes.safetensors" "$FIXTURES/dtypes.safetensors" || fail "dtypes.safetensors changed in the round trip"

# A merge of the directories equals, bit for bit, the merge of their HDF5 conversions.
models=()
h5models=()
for m in ft-math ft-code ft-chat; do
  models+=(--model "$L/$m")
  h5models+=(--model "$WORK/$m.h5")
  run "$RANKS" convert "$L/$m" "$WORK/$m.h5" --quiet
  expect_status 0
done
run "$RANKS" merge --base "$L/base" "${models[@]}" --out-dtype float32 --shard-size 20KB --output "$WORK/merged/"
expect_status 0; expect_out "done    $WORK/merged/"
run "$RANKS" merge --base "$WORK/base.h5" "${h5models[@]}" --out-dtype float32 --output "$WORK/merged.h5" --quiet
expect_status 0
run "$RANKS" diff "$WORK/merged" "$WORK/merged.h5"
expect_status 0; expect_out "summary: 21 tensors compared, 21 identical, 0 above tolerance 0"
[ -f "$WORK/merged/model-00007-of-00007.safetensors" ] || fail "expected 7 shards of 20KB: $(ls "$WORK/merged")"
[ ! -e "$WORK/merged.partial" ] || fail "the temporary directory was left behind"
grep -q '"dtype": "float32"' "$WORK/merged/config.json" || fail "config.json dtype not set: $(cat "$WORK/merged/config.json")"
for f in generation_config.json tokenizer.json tokenizer_config.json; do
  cmp "$WORK/merged/$f" "$L/base/$f" || fail "$f not copied"
done

# Streamed under a small memory budget (inputs read again each pass, output written group by
# group), the same bytes.
run "$RANKS" merge --base "$L/base" "${models[@]}" --out-dtype float32 --memory-budget 40KB --output "$WORK/streamed/"
expect_status 0; expect_out "stream  the slices exceed the memory budget"
run "$RANKS" diff "$WORK/streamed" "$WORK/merged"
expect_status 0; expect_out "summary: 21 tensors compared, 21 identical, 0 above tolerance 0"

# An existing output needs --overwrite; with it, the old directory is replaced whole.
run "$RANKS" merge --base "$L/base" "${models[@]}" --output "$WORK/merged/"
expect_status 2; expect_one_error_line; expect_err "output '$WORK/merged/' exists (pass --overwrite to replace it)"
run "$RANKS" merge --base "$L/base" "${models[@]}" --output "$WORK/merged" --overwrite --quiet
expect_status 0
[ -f "$WORK/merged/model.safetensors" ] && [ ! -e "$WORK/merged/model.safetensors.index.json" ] &&
  [ ! -e "$WORK/merged/model-00001-of-00007.safetensors" ] || fail "old shards survived --overwrite: $(ls "$WORK/merged")"
grep -q '"dtype": "bfloat16"' "$WORK/merged/config.json" || fail "config.json dtype changed without --out-dtype"

# diff: exit 1 above the tolerance, 0 within it.
run "$RANKS" diff "$WORK/merged" "$L/base" --summary
expect_status 1; expect_out "summary: 21 tensors compared, 0 identical, 21 above tolerance 0; largest max|a-b|"
run "$RANKS" diff "$WORK/merged" "$L/base" --tolerance 1
expect_status 0; expect_out "model.layers.1.mlp.up_proj.weight"

# GPT-2 ties lm_head to the embedding: absent from its file, absent from the merge.
run "$RANKS" merge --method task_arithmetic --base "$G/base" --model "$G/ft-a" --model "$G/ft-b" --output "$WORK/gpt2" --quiet
expect_status 0
run "$RANKS" inspect "$WORK/gpt2"
expect_status 0; expect_out "total: 28 tensors, 30592 parameters, 122368 bytes"
grep -q lm_head <<<"$OUT" && fail "lm_head appeared in the merge: $OUT"

# inspect: listings, and every difference between checkpoints that cannot be merged.
run "$RANKS" inspect "$FIXTURES/dtypes.safetensors"
expect_status 0; expect_out "$FIXTURES/dtypes.safetensors: safetensors file"
expect_out "  scalar   F32    []                  4"
expect_out "total: 8 tensors, 19 parameters, 80 bytes (80 B); BF16 1 F16 1 F32 3 F64 1 I64 1 U8 1"
run "$RANKS" inspect "$L/base" "$L/ft-math" "$WORK/base.h5" --totals
expect_status 0; expect_out "mergeable: yes, the 3 checkpoints hold the same 21 tensor names and shapes"
run "$RANKS" inspect "$L/base" "$FIXTURES/llama-tiny-f16/base" "$G/base" --totals
expect_status 1; expect_out "mergeable: no, 49 differences:"
expect_out "  model 3 ($G/base) lacks tensor 'model.norm.weight'"

# Broken inputs: one error line naming the file, exit 1, no hang.
mkdir -p "$WORK/broken"
cp "$L/base/"* "$WORK/broken/"
head -c 1000 "$L/base/model-00002-of-00002.safetensors" >"$WORK/broken/model-00002-of-00002.safetensors"
run "$RANKS" merge --base "$WORK/broken" "${models[@]}" --output "$WORK/never/"
expect_status 1; expect_one_error_line
expect_err "$WORK/broken/model-00002-of-00002.safetensors: tensor 'lm_head.weight': data_offsets [0, 8192] run past the end of the data (400 bytes)"
[ ! -e "$WORK/never" ] && [ ! -e "$WORK/never.partial" ] || fail "a failed merge left an output"
printf 'not json' >"$WORK/broken/model.safetensors.index.json"
run "$RANKS" inspect "$WORK/broken"
expect_status 1; expect_one_error_line; expect_err "$WORK/broken/model.safetensors.index.json: not valid JSON: "
run "$RANKS" convert "$L/base" "$WORK/out.bin"
expect_status 2; expect_one_error_line; expect_err "output '$WORK/out.bin': mpimerge does not write .bin files"
run "$RANKS" convert "$L/base" "$WORK/out" --shard-size 5XB
expect_status 2; expect_one_error_line; expect_err "size '5XB': expected a positive number of bytes"
echo "safetensors CLI: ok at $RANKS ranks"

#!/usr/bin/env bash
# Usage errors: one line, exit code 2, at any rank count, never a hang.
source "$(dirname "$0")/common.sh"

run "$RANKS" merge --bogus-option
expect_status 2; expect_one_error_line; expect_err "bogus-option"

run "$RANKS" frobnicate
expect_status 2; expect_one_error_line; expect_err "unknown command 'frobnicate'"

run "$RANKS" merge --base "$WORK/missing.h5" --model "$WORK/also-missing.h5" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "base '$WORK/missing.h5' does not exist"

run "$RANKS" generate --output-dir "$WORK/set" --params 2M --models 2 --quiet
expect_status 0
B="$WORK/set/base.h5"; M1="$WORK/set/ft-1.h5"; M2="$WORK/set/ft-2.h5"

for density in 0 -0.5 150 abc; do
  run "$RANKS" merge --base "$B" --model "$M1" --model "$M2" --density "$density" --output "$WORK/o.h5"
  expect_status 2; expect_one_error_line
done
expect_err "density"

run "$RANKS" merge --base "$B" --model "$M1" --model "$M1" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "is the same file as"

# A missing output directory is made; one that cannot be (a file stands in the way) is refused.
echo "a file" >"$WORK/afile"
run "$RANKS" merge --base "$B" --model "$M1" --output "$WORK/afile/sub/o.h5"
expect_status 2; expect_one_error_line; expect_err "output directory '$WORK/afile/sub' cannot be made: '$WORK/afile' is not a directory"

# mergekit's references to models that are not local directories: one line saying what to do.
cd "$WORK"
run "$RANKS" merge --base meta-llama/Llama-3.1-8B --model "$M1" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line
expect_err "base 'meta-llama/Llama-3.1-8B' does not exist: it looks like a Hugging Face Hub id, and mpimerge reads local checkpoints only: download it first (huggingface-cli download meta-llama/Llama-3.1-8B --local-dir Llama-3.1-8B) and give that directory"
run "$RANKS" merge --base "$B" --model "org/model@v2" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line
expect_err "(huggingface-cli download org/model --revision v2 --local-dir model)"
run "$RANKS" merge --base "$B" --model "$M1+$WORK/adapter" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line
expect_err "model 1 '$M1+$WORK/adapter' does not exist: '$M1+$WORK/adapter' is mergekit's model+LoRA reference, and mpimerge reads merged checkpoints only: merge the LoRA '$WORK/adapter' into '$M1' first"
run "$RANKS" inspect Qwen/Qwen2.5-7B-Instruct
expect_status 1; expect_one_error_line; expect_err "Qwen/Qwen2.5-7B-Instruct: cannot be read: No such file or directory: it looks like a Hugging Face Hub id"
# A local path that is missing is just missing: its directory exists, so it is no Hub id.
run "$RANKS" merge --base set/none --model "$M1" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "base 'set/none' does not exist"
grep -q "Hub id" <<<"$ERR" && fail "a local path read as a Hub id: $ERR"
cd - >/dev/null

# A dotted model name without a known extension is a Hugging Face directory; a file type that
# mpimerge does not write is refused.
# Its missing parent directories are made, as mergekit makes them.
run "$RANKS" merge --base "$B" --model "$M1" --model "$M2" --output "$WORK/made/here/Llama-3.1-8B-merged" --quiet
expect_status 0; [ -f "$WORK/made/here/Llama-3.1-8B-merged/model.safetensors" ] || fail "no Hugging Face directory: $(ls -R "$WORK")"
run "$RANKS" merge --base "$B" --model "$M1" --model "$M2" --output "$WORK/merged.pt"
expect_status 2; expect_one_error_line; expect_err "output '$WORK/merged.pt': mpimerge does not write .pt files"

run "$RANKS" merge --model "$M1" --model "$M2" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "ties needs a base model (--base)"

run "$RANKS" merge --base "$B" --model "$M1" --method soup --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "unknown method 'soup'"

run "$RANKS" merge --base "$B" --model "$M1" --model "$M2" --output "$WORK/o.h5" --quiet
expect_status 0; [ -z "$OUT" ] || fail "--quiet printed: $OUT"
run "$RANKS" merge --base "$B" --model "$M1" --model "$M2" --output "$WORK/o.h5"
expect_status 2; expect_one_error_line; expect_err "exists (pass --overwrite"

run "$RANKS" merge --help
expect_status 0
for option in --base --model --output --output-format --shard-size --method --density --lambda --trim-scope --disjoint-merge --weight --out-dtype --overwrite --report --quiet; do
  expect_out "$option"
done
run "$RANKS" --help
expect_status 0; expect_out "merge"; expect_out "generate"; expect_out "convert"; expect_out "inspect"; expect_out "diff"
echo "usage errors: ok at $RANKS ranks"

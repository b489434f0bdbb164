#!/usr/bin/env bash
# A mergekit user's Hugging Face output: the model card (README.md) and the job file as
# mergekit_config.yml beside the weights, the base's own code (*.py) copied for trust_remote_code,
# and mergekit's `dtype: bfloat16` merged in float32 with one rounding, saying so.
source "$(dirname "$0")/common.sh"
FIXTURES=${FIXTURES:?path to ../shared/fixtures}
L="$FIXTURES/llama-tiny-bf16"

# A base with custom code, as trust_remote_code models ship it.
cp -r "$L/base" "$WORK/base"
printf 'from transformers import PretrainedConfig\n' >"$WORK/base/configuration_tiny.py"
printf 'import torch\n' >"$WORK/base/modeling_tiny.py"
cat >"$WORK/job.yml" <<EOF
# task arithmetic of two fine-tunes
merge_method: task_arithmetic
base_model: $WORK/base
models:
  - model: $L/ft-math
    parameters: {weight: 0.7}
  - model: $L/ft-code
    parameters: {weight: 0.3}
parameters: {lambda: 1.0}
dtype: bfloat16
EOF

# A dotted name without a known extension is a Hugging Face directory.
out="$WORK/tiny-3.1-merged"
run "$RANKS" merge --config "$WORK/job.yml" --output "$out"
expect_status 0
expect_out "note    dtype bfloat16: mergekit computes in bfloat16, rounding after every operation as torch's kernels do on its device; mpimerge computes in float32 and rounds once, to bfloat16 (the default out_dtype)"
cmp "$out/mergekit_config.yml" "$WORK/job.yml" || fail "mergekit_config.yml is not the job file"
for f in configuration_tiny.py modeling_tiny.py tokenizer.json; do cmp "$out/$f" "$WORK/base/$f" || fail "$f not copied"; done
card="$out/README.md"
for line in "# tiny-3.1-merged" "- mpimerge" \
            "This model was merged using the task_arithmetic merge method using \`$WORK/base\` as a base." \
            "* \`$L/ft-math\`" "* \`$L/ft-code\`" "weight [0.7, 0.3], normalize false, lambda 1" \
            "merge_method: task_arithmetic" "  - model: $L/ft-code" "\`\`\`yaml"; do
  grep -qxF -- "$line" "$card" || fail "README.md lacks the line '$line': $(cat "$card")"
done
grep -qF "created with mpimerge $("$MPIMERGE" --version | awk '{print $NF}')," "$card" || fail "README.md lacks the version: $(cat "$card")"
[ ! -e "$out/mergekit_config.yml.partial" ] && [ ! -e "$out.partial" ] || fail "temporary files left"

# dtype bfloat16 is float32 arithmetic rounded once to bfloat16: the same bytes as the command line's
# float32 merge written as bfloat16.
run "$RANKS" merge --method task_arithmetic --base "$WORK/base" --model "$L/ft-math" --model "$L/ft-code" \
    --weight 0.7 --weight 0.3 --out-dtype bfloat16 --output "$WORK/cli"
expect_status 0
grep -q "^note" <<<"$OUT" && fail "a note without a 16-bit dtype: $OUT"
run "$RANKS" diff "$out" "$WORK/cli" --summary
expect_status 0; expect_out "21 identical"
grep -q '"torch_dtype": "bfloat16"\|"dtype": "bfloat16"' "$out/config.json" || fail "config.json dtype: $(cat "$out/config.json")"
# Without a job file: the same card without the configuration, and no mergekit_config.yml.
[ ! -e "$WORK/cli/mergekit_config.yml" ] || fail "mergekit_config.yml without a job file"
diff <(grep -v '^# ' "$WORK/cli/README.md") <(sed '/^### Configuration/,$d' "$card" | grep -v '^# ' | sed '$d') ||
  fail "the command line's card differs from the job file's beyond the title and configuration"

# A single-file output gets nothing beside it.
run "$RANKS" merge --config "$WORK/job.yml" --output "$WORK/one.safetensors" --quiet
expect_status 0
[ ! -e "$WORK/README.md" ] && [ ! -e "$WORK/mergekit_config.yml" ] || fail "files written beside a single-file output"
echo "mergekit output: ok at $RANKS ranks"

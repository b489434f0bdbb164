#!/usr/bin/env bash
# generate: the same checkpoints (bytes) whatever the number of ranks writing them, in HDF5 and as
# Hugging Face directories; their names and shapes are Llama's.
source "$(dirname "$0")/common.sh"
for format in hdf5 safetensors; do
  for ranks in 1 3; do
    run "$ranks" generate --output-dir "$WORK/$format-$ranks" --params 4M --models 2 --vocab 999 --seed 7 \
      --format "$format" --shard-size 3MB --quiet
    expect_status 0
  done
  diff -r "$WORK/$format-1" "$WORK/$format-3" || fail "$format: 1 and 3 ranks wrote different files"
done
run 1 inspect "$WORK/hdf5-1/base.h5" "$WORK/safetensors-1/base"
expect_status 0
for name in model.embed_tokens.weight model.layers.0.self_attn.q_proj.weight model.layers.0.mlp.down_proj.weight \
            model.layers.0.input_layernorm.weight model.norm.weight lm_head.weight; do
  expect_out "$name"
done
expect_out "mergeable: yes"
[ -f "$WORK/safetensors-1/base/config.json" ] || fail "no config.json in a generated Hugging Face directory"
grep -q '"LlamaForCausalLM"' "$WORK/safetensors-1/base/config.json" || fail "config.json is not a Llama config"
# --tensors: a mixture-of-experts layout of exactly that many tensors, the same at any rank count.
for ranks in 1 3; do
  run "$ranks" generate --output-dir "$WORK/moe-$ranks" --tensors 250 --params 1M --models 1 --vocab 999 \
    --format safetensors --shard-size 300KB
  expect_status 0
done
expect_out "mixture of experts: 250 tensors, hidden 128, 3 layers of 32 experts"
diff -r "$WORK/moe-1" "$WORK/moe-3" || fail "--tensors: 1 and 3 ranks wrote different files"
run 1 inspect "$WORK/moe-1/base"
expect_status 0
for name in model.embed_tokens.weight model.layers.2.block_sparse_moe.experts.0.w1.weight \
            model.layers.0.block_sparse_moe.gate.weight model.norm.weight lm_head.weight; do
  expect_out "$name"
done
count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["weight_map"]))' \
        "$WORK/moe-1/base/model.safetensors.index.json")
[ "$count" = 250 ] || fail "--tensors 250 wrote $count tensors"
grep -q '"num_local_experts": 32' "$WORK/moe-1/base/config.json" || fail "config.json lacks the experts"
echo "generate: ok"

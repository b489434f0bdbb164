#!/usr/bin/env python3
"""Real-world mergekit configs run unchanged (configs/*.yml: from mergekit's examples/, its README
and configs users post in its issues, with local paths), each at every rank count given, on small
generated Llama-shaped checkpoints (models/) and the GPT-2 fixtures (gpt2/).

Checked for every config: the merge succeeds; every rank count writes the same bytes; the output
loads consistently (config.json's layer count, vocabulary and hidden size match the tensors' names
and shapes, the index names every tensor in the shard that holds it and its total_size, the
tokenizer files are the chosen tokenizer's and cover the embedding rows). A mergekit-moe config
(experts, gate_mode) is refused at every rank count in one line naming mergekit-moe, which for gate
modes that need a forward pass (hidden, cheap_embed) says so.
Checked against a numpy port of mergekit's planner (plan.py: MergePlanner.plan_module,
plan_slice, plan_layer; config.py: ConfigReader.parameter, evaluate_setting), values exact:
  * slices: the LazyMergekit single full-range slice writes the bytes of its models: form;
  * passthrough stacking layer ranges of two models into a deeper one (tensors renamed,
    num_hidden_layers updated), and linear over two slices with per-source and per-slice
    parameters and a gradient over each slice's layers.

Usage: run.py MPIMERGE FIXTURES [RANKS...]
"""
import filecmp
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
MPIMERGE, FIXTURES = sys.argv[1], sys.argv[2]
RANK_COUNTS = [int(r) for r in sys.argv[3:]] or [1, 3]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
FAILURES = []
CHECKS = [0]
LAYERS, HIDDEN, INTER, VOCAB = 4, 16, 24, 128
# mergekit/_data/chat_templates/chatml.jinja, as mergekit writes it for `chat_template: chatml`.
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}\n{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}\n")


def check(ok, what):
    CHECKS[0] += 1
    if not ok:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


# ---------------------------------------------------------------- safetensors by hand

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    """name -> (dtype, float32 array), as stored."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]])
        if entry["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        out[name] = (entry["dtype"], raw.astype(np.float32).reshape(entry["shape"]))
    return out


def shard_files(directory):
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        return sorted(set(json.load(open(index))["weight_map"].values()))
    return ["model.safetensors"]


def read_model(directory):
    out = {}
    for shard in shard_files(directory):
        out.update(read_safetensors(os.path.join(directory, shard)))
    return out


# ---------------------------------------------------------------- checkpoints

def llama_tensors(rng, base=None):
    if base is not None:  # a fine-tune: the base plus small changes
        return {k: (v + rng.standard_normal(v.shape) * 0.05).astype(np.float32) for k, v in base.items()}
    t = {"model.embed_tokens.weight": rng.standard_normal((VOCAB, HIDDEN)),
         "model.norm.weight": 1 + 0.1 * rng.standard_normal(HIDDEN),
         "lm_head.weight": rng.standard_normal((VOCAB, HIDDEN))}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = rng.standard_normal((HIDDEN, HIDDEN))
        t[p + "mlp.up_proj.weight"] = rng.standard_normal((INTER, HIDDEN))
        t[p + "mlp.down_proj.weight"] = rng.standard_normal((HIDDEN, INTER))
        t[p + "input_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(HIDDEN)
    return {k: (v * 0.5).astype(np.float32) for k, v in t.items()}


def write_model(directory, tensors, shards=1):
    os.makedirs(directory)
    fixture = os.path.join(FIXTURES, "llama-tiny-bf16", "base")
    config = json.load(open(os.path.join(fixture, "config.json")))
    config.update(num_hidden_layers=LAYERS, hidden_size=HIDDEN, intermediate_size=INTER, vocab_size=VOCAB,
                  num_attention_heads=2, num_key_value_heads=2, head_dim=8, dtype="float32")
    json.dump(config, open(os.path.join(directory, "config.json"), "w"), indent=2)
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(os.path.join(fixture, name), directory)
    names = sorted(tensors)
    if shards == 1:
        write_safetensors(os.path.join(directory, "model.safetensors"), tensors)
        return
    weight_map = {}
    for s in range(shards):
        part = {n: tensors[n] for n in names[s::shards]}
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        write_safetensors(os.path.join(directory, file), part)
        weight_map.update({n: file for n in part})
    total = sum(v.nbytes for v in tensors.values())
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
              open(os.path.join(directory, "model.safetensors.index.json"), "w"), indent=2)


# ---------------------------------------------------------------- mergekit's planner, ported

def evaluate_setting(tensor_name, setting, t):
    """config.py evaluate_setting."""
    if isinstance(setting, (int, float, bool, str)):
        return setting
    if isinstance(setting, list):
        if all(isinstance(e, (int, float)) for e in setting):
            scaled = t * (len(setting) - 1)
            i0 = int(scaled)
            i1 = min(len(setting) - 1, i0 + 1)
            frac = scaled - i0
            return (1 - frac) * setting[i0] + frac * setting[i1]
        for cond in setting:
            if cond.get("filter") in (None, "*") or (tensor_name and cond["filter"] in tensor_name):
                return evaluate_setting(tensor_name, cond["value"], t)
    if isinstance(setting, dict):
        return evaluate_setting(tensor_name, [setting], t)
    return None


def parameter(config, slice_out, name, tensor_name, t, model=None):
    """config.py ConfigReader.parameter: the source's, the slice's, then the global setting."""
    if slice_out is not None:
        if model is not None:
            for s in slice_out["sources"]:
                if s["model"] == model and name in (s.get("parameters") or {}):
                    value = evaluate_setting(tensor_name, s["parameters"][name], t)
                    if value is not None:
                        return value
        if name in (slice_out.get("parameters") or {}):
            value = evaluate_setting(tensor_name, slice_out["parameters"][name], t)
            if value is not None:
                return value
    if name in (config.get("parameters") or {}):
        return evaluate_setting(tensor_name, config["parameters"][name], t)
    return None


def is_layer(name):
    return name.startswith("model.layers.")


def layer_name(name, index):
    parts = name.split(".")
    parts[2] = str(index)
    return ".".join(parts)


def mergekit_plan(config, models):
    """plan.py: (output name, [(model, input name)], slice, t) for every output tensor."""
    slices = config["slices"]
    pre = [n for n in models[slices[0]["sources"][0]["model"]] if n == "model.embed_tokens.weight"]
    post = [n for n in models[slices[-1]["sources"][0]["model"]] if n in ("model.norm.weight", "lm_head.weight")]
    plan = [(n, [(s["model"], n) for s in slices[0]["sources"]], slices[0], 0.0) for n in pre]
    out_layer = 0
    for sl in slices:
        first, end = sl["sources"][0]["layer_range"]
        count = end - first
        for k in range(count):
            t = k / (count - 1) if count > 1 else 1.0
            template = [n for n in models[sl["sources"][0]["model"]] if is_layer(n) and n.split(".")[2] == "0"]
            for n in template:
                inputs = [(s["model"], layer_name(n, s["layer_range"][0] + k)) for s in sl["sources"]]
                plan.append((layer_name(n, out_layer), inputs, sl, t))
            out_layer += 1
    plan += [(n, [(s["model"], n) for s in slices[-1]["sources"]], slices[-1], 0.0) for n in post]
    return plan, out_layer


def mergekit_passthrough(config, models):
    plan, layers = mergekit_plan(config, models)
    out = {}
    for name, inputs, _, _ in plan:
        assert len(inputs) == 1
        model, source = inputs[0]
        out[name] = models[model][source]
    return out, layers


def mergekit_linear(config, models):
    """merge_methods/linear.py: (weights * tensors).sum(0) / weights.sum(0), in float32; per-model
    parameters read with the input tensor's name, as plan_tensor does."""
    plan, layers = mergekit_plan(config, models)
    out = {}
    for name, inputs, sl, t in plan:
        weights = np.array([parameter(config, sl, "weight", source, t, model) for model, source in inputs],
                           dtype=np.float32)
        stacked = np.stack([models[m][s] for m, s in inputs])
        total = (weights.reshape((-1,) + (1,) * (stacked.ndim - 1)) * stacked).sum(axis=0, dtype=np.float32)
        out[name] = (total / weights.sum(dtype=np.float32)).astype(np.float32)
    return out, layers


def vocabulary(directory):
    """A model's tokens -> ids below config.json's vocab_size (build_tokenizer's permutations)."""
    tok = json.load(open(os.path.join(directory, "tokenizer.json")))
    size = json.load(open(os.path.join(directory, "config.json")))["vocab_size"]
    ids = dict(tok["model"]["vocab"])
    ids.update({t["content"]: t["id"] for t in tok["added_tokens"]})
    return {t: i for t, i in ids.items() if i < size}


def mergekit_permuted_rows(name, out_vocab, inputs, tokens, base=None):
    """tokenizer/embed.py PermutedEmbeddings: each input's rows of tensor `name` permuted to the
    output's vocabulary. inputs: [(model, vocabulary, tensors)]; tokens: the tokenizer block's."""
    configs = dict(tokens or {})
    rows = {m: t[name] for m, _, t in inputs}
    vocab_of = {m: v for m, v, _ in inputs}
    defaults = {}
    for token in out_vocab:
        have = [m for m, v, _ in inputs if token in v]
        cfg = configs.get(token)
        if cfg is not None:
            source = cfg["source"]
            if isinstance(source, str):
                defaults[token] = rows[source][vocab_of[source][token]]
            elif source["kind"] == "zero":
                defaults[token] = np.zeros(rows[inputs[0][0]].shape[1], np.float32)
            else:
                m = source["model"]
                row = source["token_id"] if "token_id" in source else vocab_of[m][source["token"]]
                defaults[token] = rows[m][row]
        elif len(have) == 1:
            defaults[token] = rows[have[0]][vocab_of[have[0]][token]]
        elif not have:
            defaults[token] = np.zeros(rows[inputs[0][0]].shape[1], np.float32)
        elif base is not None and token in vocab_of[base]:
            defaults[token] = rows[base][vocab_of[base][token]]
        else:
            total = np.zeros(rows[inputs[0][0]].shape[1], np.float32)
            for m in have:
                total += rows[m][vocab_of[m][token]]
            defaults[token] = total / len(have)
    out = {}
    for m, v, _ in inputs:
        permuted = np.zeros((len(out_vocab), rows[m].shape[1]), np.float32)
        for token, i in out_vocab.items():
            forced = (configs.get(token) or {}).get("force", False)
            permuted[i] = rows[m][v[token]] if token in v and not forced else defaults[token]
        out[m] = permuted
    return out


# ---------------------------------------------------------------- checks

def run_merge(config, out, extra=()):
    cmd = ["mpirun", "-n", str(out[1]), MPIMERGE, "merge", "--config", config, "--output", out[0], "--quiet",
           "--no-report", *extra]
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    check(r.returncode == 0, f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()[:600]}")
    return r.returncode == 0


REFUSED = set()


def check_moe_refused(name, config, config_path):
    """A mergekit-moe config is refused at every rank count, before any work, with one line that
    names mergekit-moe and, for the gate modes that need a forward pass, says so (mpirun --quiet,
    as README shows, keeps Open MPI's own lines out)."""
    mode = config.get("gate_mode", "hidden")
    for ranks in RANK_COUNTS:
        out = os.path.join("out", f"{name}-np{ranks}")
        r = subprocess.run(["mpirun", "--quiet", "-n", str(ranks), MPIMERGE, "merge", "--config", config_path, "--output", out,
                            "--quiet", "--no-report"], env=ENV, capture_output=True, text=True)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        ok = (r.returncode == 2 and len(lines) == 1 and "use mergekit-moe" in lines[0]
              and f"gate_mode {mode}" in lines[0]
              and (("forward pass" in lines[0]) == (mode in ("hidden", "cheap_embed"))))
        check(ok, f"{name} at {ranks} ranks: exit {r.returncode}: {r.stderr.strip()[:600]}")
        check(not os.path.exists(out), f"{name} at {ranks} ranks: wrote {out}")
    REFUSED.add(name)
    print(f"{name}: refused at {RANK_COUNTS} ranks (gate_mode {mode})", flush=True)


def same_directories(a, b, job_files_differ=False):
    """Byte for byte, but the model card's title (the output's name); with job_files_differ, the
    two came from different job files, so their model cards and mergekit_config.yml are skipped."""
    names_a, names_b = sorted(os.listdir(a)), sorted(os.listdir(b))
    if names_a != names_b:
        return False
    def card(d):
        return [line for line in open(os.path.join(d, "README.md")) if not line.startswith("# ")]
    for n in names_a:
        if n in ("README.md", "mergekit_config.yml") and job_files_differ:
            continue
        if n == "README.md":
            if card(a) != card(b):
                return False
        elif not filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False):
            return False
    return True


def check_loads(tag, directory, tokenizer_from, union_of=None):
    """What from_pretrained relies on: config against tensors, index against shards, tokenizer."""
    config = json.load(open(os.path.join(directory, "config.json")))
    tensors = {}
    index_path = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index_path):
        index = json.load(open(index_path))
        total = 0
        for shard in sorted(set(index["weight_map"].values())):
            held = read_safetensors(os.path.join(directory, shard))
            check(all(index["weight_map"].get(n) == shard for n in held), f"{tag}: {shard} holds tensors its index puts elsewhere")
            total += sum(v.nbytes // (2 if d in ("BF16", "F16") else 1) for d, v in held.values())
            tensors.update(held)
        check(set(index["weight_map"]) == set(tensors), f"{tag}: the index names other tensors than the shards hold")
        check(index["metadata"]["total_size"] == total, f"{tag}: total_size {index['metadata']['total_size']} != {total}")
        check(sorted(os.listdir(directory)) == sorted(set(os.listdir(directory)) - set()), tag)
    else:
        tensors = read_safetensors(os.path.join(directory, "model.safetensors"))
    llama = "model.embed_tokens.weight" in tensors
    layers_key, hidden_key = ("num_hidden_layers", "hidden_size") if llama else ("n_layer", "n_embd")
    prefix = "model.layers." if llama else "transformer.h."
    layer_ids = {int(n[len(prefix):].split(".")[0]) for n in tensors if n.startswith(prefix)}
    check(layer_ids == set(range(config[layers_key])),
          f"{tag}: config.json says {config[layers_key]} layers, the tensors hold layers {sorted(layer_ids)}")
    embed = tensors["model.embed_tokens.weight" if llama else "transformer.wte.weight"][1]
    check(embed.shape == (config["vocab_size"], config[hidden_key]),
          f"{tag}: embeddings {embed.shape} vs config vocab_size {config['vocab_size']}, hidden {config[hidden_key]}")
    if "lm_head.weight" in tensors:
        check(tensors["lm_head.weight"][1].shape == embed.shape, f"{tag}: lm_head's shape is not the embeddings'")
    tokenizer = json.load(open(os.path.join(directory, "tokenizer.json")))
    ids = set(tokenizer["model"]["vocab"].values()) | {t["id"] for t in tokenizer.get("added_tokens", [])}
    check(max(ids) < embed.shape[0], f"{tag}: the tokenizer has ids up to {max(ids)}, the embeddings {embed.shape[0]} rows")
    if union_of is None:
        check(filecmp.cmp(os.path.join(directory, "tokenizer.json"), os.path.join(tokenizer_from, "tokenizer.json"),
                          shallow=False), f"{tag}: tokenizer.json is not {tokenizer_from}'s")
    else:
        # A union built for the output: every token of every model, each id one embedding row.
        vocab = dict(tokenizer["model"]["vocab"], **{t["content"]: t["id"] for t in tokenizer.get("added_tokens", [])})
        check(sorted(vocab.values()) == list(range(embed.shape[0])), f"{tag}: the tokenizer's ids are not the rows 0..{embed.shape[0] - 1}")
        for model in union_of:
            theirs = json.load(open(os.path.join(model, "tokenizer.json")))
            tokens = set(theirs["model"]["vocab"]) | {t["content"] for t in theirs.get("added_tokens", [])}
            check(tokens <= set(vocab), f"{tag}: the union lacks {sorted(tokens - set(vocab))[:4]} of {model}")
    return config, tensors


def add_tokens(directory, contents):
    """Resizes a model's vocabulary as a fine-tune that added tokens does: added_tokens, embedding
    rows and config.json's vocab_size."""
    tok = json.load(open(os.path.join(directory, "tokenizer.json")))
    config = json.load(open(os.path.join(directory, "config.json")))
    start = config["vocab_size"]
    for i, content in enumerate(contents):
        tok["added_tokens"].append(dict(tok["added_tokens"][0], id=start + i, content=content, special=True))
    json.dump(tok, open(os.path.join(directory, "tokenizer.json"), "w"))
    json.dump(dict(config, vocab_size=start + len(contents)), open(os.path.join(directory, "config.json"), "w"), indent=2)


def make_other_vocabularies(work, models):
    """models/ft-grown: ft-a with <|im_start|> and <|im_end|> added (130 rows); gpt2-vocab/ft-added:
    GPT-2 ft-a with the same two tokens; gpt2-vocab/ft-reordered: GPT-2 ft-b with t0 and t1 at each
    other's ids (and rows)."""
    rng = np.random.default_rng(23)
    grown = dict(models["models/ft-a"])
    for key in ("model.embed_tokens.weight", "lm_head.weight"):
        grown[key] = np.concatenate([grown[key], rng.standard_normal((2, HIDDEN)).astype(np.float32)])
    write_model(os.path.join(work, "models", "ft-grown"), grown)
    add_tokens(os.path.join(work, "models", "ft-grown"), ("<|im_start|>", "<|im_end|>"))
    gpt2 = os.path.join(FIXTURES, "gpt2-tiny-f32")
    for name, source in (("ft-added", "ft-a"), ("ft-reordered", "ft-b")):
        d = os.path.join(work, "gpt2-vocab", name)
        shutil.copytree(os.path.join(gpt2, source), d)
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        tensors = {n: v for n, (_, v) in read_safetensors(os.path.join(d, "model.safetensors")).items()}
        if name == "ft-added":
            tensors["transformer.wte.weight"] = np.concatenate(
                [tensors["transformer.wte.weight"], rng.standard_normal((2, tensors["transformer.wte.weight"].shape[1]))
                 .astype(np.float32)])
            write_safetensors(os.path.join(d, "model.safetensors"), tensors)
            add_tokens(d, ("<|im_start|>", "<|im_end|>"))
        else:
            wte = tensors["transformer.wte.weight"].copy()
            wte[[0, 1]] = wte[[1, 0]]
            tensors["transformer.wte.weight"] = wte
            write_safetensors(os.path.join(d, "model.safetensors"), tensors)
            tok = json.load(open(os.path.join(d, "tokenizer.json")))
            vocab = tok["model"]["vocab"]
            vocab["t0"], vocab["t1"] = vocab["t1"], vocab["t0"]
            json.dump(tok, open(os.path.join(d, "tokenizer.json"), "w"))


def main():
    work = tempfile.mkdtemp(prefix="mergekit-configs-")
    try:
        rng = np.random.default_rng(17)
        base = llama_tensors(rng)
        models = {"models/base": base}
        for name in ("ft-a", "ft-b", "ft-c"):
            models["models/" + name] = llama_tensors(rng, base)
        for name, tensors in models.items():
            write_model(os.path.join(work, name), tensors, shards=2 if name == "models/base" else 1)
        os.symlink(os.path.join(FIXTURES, "gpt2-tiny-f32"), os.path.join(work, "gpt2"))
        make_other_vocabularies(work, models)
        os.chdir(work)

        outputs = {}
        configs = sorted(f for f in os.listdir(os.path.join(HERE, "configs")) if f.endswith(".yml"))
        for file in configs:
            name = file[:-4]
            config_path = os.path.join(HERE, "configs", file)
            config = yaml.safe_load(open(config_path))
            if "experts" in config:
                check_moe_refused(name, config, config_path)
                continue
            extra = ["--shard-size", "20K"] if name == "passthrough-stack" else []
            dirs = []
            for ranks in RANK_COUNTS:
                out = os.path.join(work, "out", f"{name}-np{ranks}")
                os.makedirs(os.path.dirname(out), exist_ok=True)
                if run_merge(config_path, (out, ranks), extra):
                    dirs.append(out)
            if len(dirs) != len(RANK_COUNTS):
                continue
            for other in dirs[1:]:
                check(same_directories(dirs[0], other), f"{name}: {other} differs from {dirs[0]}")
            tokenizer_from = config.get("base_model") or (config.get("models") or [{}])[0].get("model") \
                or config["slices"][0]["sources"][0]["model"]
            union_of = None
            if (config.get("tokenizer_source") or (config.get("tokenizer") or {}).get("source")) == "union":
                union_of = ([config["base_model"]] if "base_model" in config else []) + [m["model"] for m in config["models"]]
            outputs[name] = (config,) + check_loads(name, dirs[0], tokenizer_from, union_of)
            print(f"{name}: merged at {RANK_COUNTS} ranks", flush=True)

        plain = {m: {n: v for n, v in t.items()} for m, t in models.items()}
        if "slerp-slices" in outputs and "slerp-models" in outputs:
            check(same_directories(os.path.join(work, "out", f"slerp-slices-np{RANK_COUNTS[0]}"),
                                   os.path.join(work, "out", f"slerp-models-np{RANK_COUNTS[0]}"), job_files_differ=True),
                  "slerp: the single full-range slice does not write its models: form's bytes")
        if "passthrough-stack" in outputs:
            config, out_config, tensors = outputs["passthrough-stack"]
            expected, layers = mergekit_passthrough(config, plain)
            check(out_config["num_hidden_layers"] == layers == 6, f"passthrough: num_hidden_layers {out_config['num_hidden_layers']}")
            check(set(tensors) == set(expected), f"passthrough: tensors {sorted(set(tensors) ^ set(expected))} differ")
            for n in expected:
                check(n in tensors and np.array_equal(tensors[n][1], expected[n]), f"passthrough: {n} differs from mergekit's")
            check(len(shard_files(os.path.join(work, "out", f"passthrough-stack-np{RANK_COUNTS[0]}"))) > 1,
                  "passthrough: --shard-size 20K wrote one shard")
        if "linear-slices" in outputs:
            config, out_config, tensors = outputs["linear-slices"]
            expected, layers = mergekit_linear(config, plain)
            check(out_config["num_hidden_layers"] == layers == 4, "linear-slices: num_hidden_layers")
            check(set(tensors) == set(expected), "linear-slices: tensor names differ from mergekit's")
            for n in expected:
                check(n in tensors and np.array_equal(tensors[n][1], expected[n]), f"linear-slices: {n} differs from mergekit's")
        if "ties-tokenizer-union-chat-template" in outputs:
            out = os.path.join(work, "out", f"ties-tokenizer-union-chat-template-np{RANK_COUNTS[0]}")
            template = open(os.path.join(out, "chat_template.jinja")).read()
            check(template == CHATML, f"chat_template: chat_template.jinja holds {template!r}")
            check("chat_template" not in json.load(open(os.path.join(out, "tokenizer_config.json"))),
                  "chat_template: tokenizer_config.json still holds a chat_template")
            # ft-grown's two added tokens join the base's vocabulary at its ids 128 and 129.
            _, out_config, tensors = outputs["ties-tokenizer-union-chat-template"]
            tok = json.load(open(os.path.join(out, "tokenizer.json")))
            added = {t["content"]: t["id"] for t in tok["added_tokens"]}
            check(out_config["vocab_size"] == VOCAB + 2 and added.get("<|im_start|>") == VOCAB and added.get("<|im_end|>") == VOCAB + 1,
                  f"union: vocab_size {out_config['vocab_size']}, added tokens {added}")
        if "linear-tokenizer-tokens" in outputs:
            # The tokenizer block's tokens join the union (<|tool|> a new id; t5 and t9 added tokens at
            # their ids), and every model's embedding and lm_head rows are mergekit's permutation.
            config, out_config, tensors = outputs["linear-tokenizer-tokens"]
            out = os.path.join(work, "out", f"linear-tokenizer-tokens-np{RANK_COUNTS[0]}")
            out_vocab = vocabulary(out)
            tok = json.load(open(os.path.join(out, "tokenizer.json")))
            added = {t["content"]: t["id"] for t in tok["added_tokens"]}
            check(out_config["vocab_size"] == VOCAB + 3 and added.get("<|tool|>") == VOCAB + 2
                  and added.get("t5") == 5 and added.get("t9") == 9, f"tokens: vocab_size {out_config['vocab_size']}, added {added}")
            inputs = [(m["model"], vocabulary(m["model"]), {n: v for n, (_, v) in read_model(m["model"]).items()})
                      for m in config["models"]]
            weights = np.array([m["parameters"]["weight"] for m in config["models"]], dtype=np.float32)
            for name in ("model.embed_tokens.weight", "lm_head.weight"):
                permuted = mergekit_permuted_rows(name, out_vocab, inputs, config["tokenizer"]["tokens"])
                stacked = np.stack([permuted[m] for m, _, _ in inputs])
                expected = (weights.reshape(-1, 1, 1) * stacked).sum(axis=0, dtype=np.float32) / weights.sum(dtype=np.float32)
                got = tensors[name][1]
                check(got.shape == expected.shape and np.allclose(got, expected, rtol=2e-7, atol=1e-7),
                      f"tokens: {name} differs from mergekit's permuted rows by "
                      f"{np.abs(got - expected).max() if got.shape == expected.shape else got.shape}")
                check(np.array_equal(got[5], np.zeros_like(got[5])), f"tokens: {name} row of t5 is not zero")
        if "gpt2-ties-tokenizer-union" in outputs:
            _, out_config, tensors = outputs["gpt2-ties-tokenizer-union"]
            check(out_config["vocab_size"] == 130 and tensors["transformer.wte.weight"][1].shape == (130, 32),
                  f"gpt2 union: vocab_size {out_config['vocab_size']}")
        for name in configs:
            check(name[:-4] in outputs or name[:-4] in REFUSED, f"{name}: not merged")

        # A fine-tune whose vocabulary grew merges with tokenizer_source base into the base's 128 rows,
        # its two added tokens left out, and the base's tokenizer files.
        with open("grown.yml", "w") as f:
            f.write("merge_method: task_arithmetic\nbase_model: models/base\ntokenizer_source: base\n"
                    "models:\n  - model: models/ft-grown\n    parameters: {weight: 1}\n")
        r = subprocess.run(["mpirun", "-n", "2", MPIMERGE, "merge", "--config", "grown.yml", "--output", "out/grown",
                            "--quiet", "--no-report"], env=ENV, capture_output=True, text=True)
        check(r.returncode == 0, f"grown vocabulary, tokenizer_source base: exit {r.returncode}: {r.stderr[:400]}")
        if r.returncode == 0:
            out_config, tensors = check_loads("grown", "out/grown", "models/base")
            check(out_config["vocab_size"] == VOCAB and tensors["lm_head.weight"][1].shape == (VOCAB, HIDDEN),
                  f"grown: vocab_size {out_config['vocab_size']}")

        # Refusals with their reasons: tokenizer files need a directory output; a job file's
        # slices are not overridden from the command line.
        refusals = [
            (["--config", os.path.join(HERE, "configs", "della-tokenizer-base.yml"), "--output", "out/della.h5"],
             "tokenizer_source writes tokenizer files, which need a Hugging Face directory output"),
            (["--config", os.path.join(HERE, "configs", "passthrough-stack.yml"), "--model", "models/ft-c", "--output", "out/x"],
             "--model cannot override a job file's slices"),
        ]
        for args, message in refusals:
            r = subprocess.run(["mpirun", "-n", "2", MPIMERGE, "merge", *args, "--quiet", "--no-report"], env=ENV,
                               capture_output=True, text=True)
            check(r.returncode == 2 and message in r.stderr, f"{args}: exit {r.returncode}: {r.stderr[:400]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} of {CHECKS[0]} checks failed")
        sys.exit(1)
    print(f"mergekit configs: {len(configs)} configs at {RANK_COUNTS} ranks, {CHECKS[0]} checks passed")


if __name__ == "__main__":
    main()

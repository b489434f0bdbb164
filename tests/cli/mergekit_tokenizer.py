#!/usr/bin/env python3
"""Embedding rows aligned by token string across different vocabularies (tokenizer_source base,
union, a model; tokenizer: pad_to_multiple_of), against a numpy port of mergekit's code, at every
rank count given; the output's bytes must not depend on the rank count.

References (read, re-implemented here; no code copied), arcee-ai/mergekit:
  tokenizer/build.py  get_stripped_tokenizer, build_union_tokenizer, build_tokenizer (permutations)
  tokenizer/embed.py  PermutedEmbeddings.execute, assign_embedding_sources
  merge.py            _update_config_vocab (config.json's vocab_size)
  merge_methods/generalized_task_arithmetic.py, linear.py (the methods, float32, model order)
Where mergekit's result depends on a set's or a hash map's iteration order (the union's new tokens,
the models an average sums), this port fixes the order mpimerge documents: the inputs in the job's
order (the base first), each model's tokens by id. The average of rows is summed in float64 in that
order and rounded once; a padding row is the exact column mean (math.fsum) rounded once.

Models (from the GPT-2 fixture, WordLevel tokenizers, tied embeddings transformer.wte.weight):
  grown:    ft-a with two added tokens (<tool>, </tool>): 130 rows, config vocab_size 130
  swapped:  ft-b with ids reordered (t0 <-> t10, t20..t29 reversed), its rows moved with them
  replaced: ft-a with t3 renamed x_new and t7 removed (its row left unused)
  padded:   ft-b with 136 rows for its 128 tokens (config vocab_size 136, as Qwen pads)
  base2:    the base with a token past config.json's vocab_size (stripped, as mergekit strips)

Usage: mergekit_tokenizer.py MPIMERGE FIXTURES [RANKS...]
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

MPIMERGE, FIXTURES = sys.argv[1], sys.argv[2]
RANK_COUNTS = [int(r) for r in sys.argv[3:]] or [1, 3]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
F32 = np.float32
EMBED = "transformer.wte.weight"
FAILURES, CHECKS = [], [0]


def check(ok, what):
    CHECKS[0] += 1
    if not ok:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name != "__metadata__":
            b, end = e["data_offsets"]
            out[name] = np.frombuffer(data[b:end], dtype=F32).reshape(e["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype=F32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load(d):
    tok = json.load(open(os.path.join(d, "tokenizer.json")))
    config = json.load(open(os.path.join(d, "config.json")))
    return read_safetensors(os.path.join(d, "model.safetensors")), tok, config


def save(d, tensors, tok, config, like):
    os.makedirs(d)
    for name in os.listdir(like):
        if name not in ("model.safetensors", "tokenizer.json", "config.json"):
            shutil.copy(os.path.join(like, name), d)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    json.dump(tok, open(os.path.join(d, "tokenizer.json"), "w"), indent=2, ensure_ascii=False)
    json.dump(config, open(os.path.join(d, "config.json"), "w"), indent=2)


def make_models(work):
    gpt2 = os.path.join(FIXTURES, "gpt2-tiny-f32")
    rng = np.random.default_rng(7)
    shutil.copytree(os.path.join(gpt2, "base"), os.path.join(work, "base"))
    t, tok, cfg = load(os.path.join(gpt2, "ft-a"))
    t[EMBED] = np.concatenate([t[EMBED], rng.standard_normal((2, t[EMBED].shape[1])).astype(F32)])
    for i, content in enumerate(("<tool>", "</tool>")):
        tok["added_tokens"].append(dict(tok["added_tokens"][0], id=128 + i, content=content))
    save(os.path.join(work, "grown"), t, tok, dict(cfg, vocab_size=130), os.path.join(gpt2, "ft-a"))

    t, tok, cfg = load(os.path.join(gpt2, "ft-b"))
    order = list(range(128))
    order[0], order[10] = 10, 0
    order[20:30] = order[20:30][::-1]
    vocab = tok["model"]["vocab"]
    by_id = {i: s for s, i in vocab.items()}
    tok["model"]["vocab"] = {by_id[order[i]]: i for i in range(124)}  # new id i holds old id order[i]
    t[EMBED] = t[EMBED][order]
    save(os.path.join(work, "swapped"), t, tok, cfg, os.path.join(gpt2, "ft-b"))

    t, tok, cfg = load(os.path.join(gpt2, "ft-a"))
    vocab = tok["model"]["vocab"]
    vocab = {("x_new" if s == "t3" else s): i for s, i in vocab.items() if s != "t7"}
    tok["model"]["vocab"] = vocab
    t = {k: (v + F32(0.25) if k == EMBED else v) for k, v in t.items()}
    save(os.path.join(work, "replaced"), t, tok, cfg, os.path.join(gpt2, "ft-a"))

    t, tok, cfg = load(os.path.join(gpt2, "ft-b"))
    t[EMBED] = np.concatenate([t[EMBED], rng.standard_normal((8, t[EMBED].shape[1])).astype(F32)])
    save(os.path.join(work, "padded"), t, tok, dict(cfg, vocab_size=136), os.path.join(gpt2, "ft-b"))

    t, tok, cfg = load(os.path.join(gpt2, "base"))
    tok["added_tokens"].append(dict(tok["added_tokens"][0], id=128, content="<extra>"))
    save(os.path.join(work, "base2"), t, tok, cfg, os.path.join(gpt2, "base"))


# ------------------------------------------------- tokenizer/build.py and embed.py (re-implemented)

def vocabulary(d):
    tok = json.load(open(os.path.join(d, "tokenizer.json")))
    cfg = json.load(open(os.path.join(d, "config.json")))
    ids = dict(tok["model"]["vocab"])
    added = {}
    for entry in tok.get("added_tokens", []):
        ids[entry["content"]] = entry["id"]
        added[entry["content"]] = entry
    return {"ids": ids, "added": added, "usable": cfg.get("vocab_size") or len(ids),
            "model_tokens": len(tok["model"]["vocab"])}


def stripped(v):
    """get_stripped_tokenizer: tokens at ids >= vocab_size dropped."""
    ids = {s: i for s, i in v["ids"].items() if i < v["usable"]}
    added = {s: e for s, e in v["added"].items() if e["id"] < v["usable"]}
    model_tokens = v["model_tokens"] - len([s for s, i in v["ids"].items() if i >= v["usable"] and s not in v["added"]])
    return dict(v, ids=ids, added=added, model_tokens=model_tokens)


def build_vocabulary(source, vocabs):
    """build_tokenizer's vocab_out: token -> id. vocabs[0] is the tokenizer's base."""
    base = stripped(vocabs[0])
    if source == "base":
        return dict(base["ids"])
    if source != "union":
        return dict(source["ids"])
    out = dict(base["ids"])
    added_ids = {base["ids"][s] for s in base["added"]}
    plain, added = [], {}
    for v in [base] + vocabs[1:]:
        for s, i in sorted(v["ids"].items(), key=lambda e: e[1]):
            if i < v["usable"] and s not in v["added"] and s not in plain:
                plain.append(s)
        for s, e in sorted(v["added"].items(), key=lambda e: e[1]["id"]):
            if e["id"] < v["usable"] and s not in added:
                added[s] = e

    def add(s):
        # tokenizers' AddedVocabulary::add_tokens: a known token keeps its id, a new one the next.
        if s not in out:
            top = max(added_ids) if added_ids else None
            out[s] = top + 1 if top is not None and top >= base["model_tokens"] else base["model_tokens"]
        added_ids.add(out[s])
    for s in plain:
        if s not in added and s not in base["ids"]:
            add(s)
    for s in added:
        if s not in base["added"]:
            add(s)
    return out


def permuted_embeddings(vocab_out, vocabs, tensors, has_base, pad):
    """PermutedEmbeddings.execute for every model: its rows in the output's order."""
    n = len(vocab_out)
    rows = n if not pad or n % pad == 0 else (n // pad + 1) * pad
    perms = []
    for v in vocabs:
        p = {}
        for s, i in vocab_out.items():
            j = v["ids"].get(s, -1)
            p[i] = j if 0 <= j < v["usable"] else -1
        perms.append(p)
    width = tensors[0].shape[1]
    defaults = {}
    for s, i in vocab_out.items():
        present = [m for m in range(len(vocabs)) if perms[m][i] >= 0]
        if len(present) == 1:
            defaults[i] = tensors[present[0]][perms[present[0]][i]]
        elif not present:
            defaults[i] = np.zeros(width, F32)
        elif has_base and perms[0][i] >= 0:
            defaults[i] = tensors[0][perms[0][i]]
        else:
            total = np.zeros(width, np.float64)
            for m in present:
                total += tensors[m][perms[m][i]].astype(np.float64)
            defaults[i] = (total / len(present)).astype(F32)
    out = []
    for m, t in enumerate(tensors):
        e = np.zeros((rows, width), F32)
        for i in range(n):
            e[i] = t[perms[m][i]] if perms[m][i] >= 0 else defaults[i]
        if rows > n:
            mean = np.array([math.fsum(e[:n, c].astype(np.float64)) / n for c in range(width)]).astype(F32)
            e[n:] = mean
        out.append(e)
    return out, rows


def task_arithmetic(base, fts, weights):
    mixed = np.zeros_like(base)
    for ft, w in zip(fts, weights):
        mixed = (mixed + ((ft - base).astype(F32) * F32(w)).astype(F32)).astype(F32)
    return (base + mixed).astype(F32)


def linear(fts, weights):
    res = np.zeros_like(fts[0])
    total = F32(0)
    for ft, w in zip(fts, weights):
        res = (res + ft * F32(w)).astype(F32)
        total = F32(total + F32(w))
    return (res / total).astype(F32)


# ------------------------------------------------------------------------------------- cases

def run(work, name, job, ranks):
    out = os.path.join(work, "out", f"{name}-np{ranks}")
    path = os.path.join(work, f"{name}.yml")
    open(path, "w").write(job)
    r = subprocess.run(["mpirun", "-n", str(ranks), MPIMERGE, "merge", "--config", path, "--output", out, "--quiet",
                        "--no-report"], env=ENV, capture_output=True, text=True, cwd=work)
    check(r.returncode == 0, f"{name} at {ranks} ranks: exit {r.returncode}: {r.stderr[-600:]}")
    return out if r.returncode == 0 else None


def same_files(a, b, names):
    return all(open(os.path.join(a, n), "rb").read() == open(os.path.join(b, n), "rb").read() for n in names)


def case(work, name, method, base, models, source, weights, pad=None):
    lines = [f"merge_method: {method}"]
    if base:
        lines.append(f"base_model: {base}")
    lines.append("models:")
    for m, w in zip(models, weights):
        lines.append(f"  - model: {m}\n    parameters: {{weight: {w}}}")
    src = source if isinstance(source, str) else source[1]
    if pad:
        lines.append(f"tokenizer:\n  source: {src}\n  pad_to_multiple_of: {pad}")
    else:
        lines.append(f"tokenizer_source: {src}")
    lines.append("dtype: float32")
    job = "\n".join(lines) + "\n"
    outs = [run(work, name, job, r) for r in RANK_COUNTS]
    if None in outs:
        return
    files = sorted(n for n in os.listdir(outs[0]) if n != "README.md")
    for other in outs[1:]:
        check(sorted(n for n in os.listdir(other) if n != "README.md") == files and same_files(outs[0], other, files),
              f"{name}: {other} differs from {outs[0]}")

    inputs = ([base] if base else []) + models
    vocabs = [vocabulary(os.path.join(work, p)) for p in inputs]
    chosen = source if isinstance(source, str) else vocabulary(os.path.join(work, source[1]))
    vocab_out = build_vocabulary(chosen, vocabs)
    tensors = [read_safetensors(os.path.join(work, p, "model.safetensors")) for p in inputs]
    embeds, rows = permuted_embeddings(vocab_out, vocabs, [t[EMBED] for t in tensors], bool(base), pad)
    got = read_safetensors(os.path.join(outs[0], "model.safetensors"))
    for tname in tensors[0]:
        per_input = embeds if tname == EMBED else [t[tname] for t in tensors]
        if method == "task_arithmetic":
            expected = task_arithmetic(per_input[0], per_input[1:], weights)
        else:
            expected = linear(per_input, weights)
        check(tname in got and got[tname].shape == expected.shape and np.array_equal(got[tname], expected),
              f"{name}: {tname} differs from mergekit's" + (f" (shape {got[tname].shape} vs {expected.shape})" if tname in got else ""))
    # The output loads consistently: config.json's vocab_size is the embedding's rows, and the
    # tokenizer written is the output vocabulary, every id a row.
    config = json.load(open(os.path.join(outs[0], "config.json")))
    check(config["vocab_size"] == rows == got[EMBED].shape[0], f"{name}: vocab_size {config['vocab_size']}, rows {rows}")
    written = vocabulary(os.path.join(outs[0]))
    check(written["ids"] == vocab_out, f"{name}: tokenizer.json's vocabulary is not mergekit's "
          f"({sorted(set(written['ids'].items()) ^ set(vocab_out.items()))[:6]})")
    check(sorted(written["ids"].values()) == list(range(len(vocab_out))), f"{name}: the tokenizer's ids are not 0..n-1")
    tok_config = json.load(open(os.path.join(outs[0], "tokenizer_config.json")))
    if "added_tokens_decoder" in tok_config:
        check({int(i): e["content"] for i, e in tok_config["added_tokens_decoder"].items()} ==
              {e["id"]: s for s, e in written["added"].items()}, f"{name}: tokenizer_config.json's added_tokens_decoder")
    return outs[0], vocab_out, rows


def resume_with_other_tokens(work):
    """A merge killed before its rename resumes only as the same job: a tokenizer block that forces
    other rows is another merge, although every shape is the same (the resume fingerprint holds
    the tokenizer)."""
    job = ("merge_method: linear\nmodels:\n  - model: swapped\n    parameters: {weight: 1}\n"
           "  - model: replaced\n    parameters: {weight: 1}\ntokenizer:\n  source: base\n")
    paths = {}
    for name, text in (("first", job), ("other", job + "  tokens:\n    t5: {source: {kind: zero}, force: true}\n")):
        paths[name] = os.path.join(work, f"resume-{name}.yml")
        open(paths[name], "w").write(text)
    out = os.path.join(work, "out", "resumed")
    def merge(config, *extra, fault=None):
        forward = ["-x", "MPIMERGE_FAULT"] if fault else []
        return subprocess.run(["mpirun", "--quiet", "-n", "2", *forward, MPIMERGE, "merge", "--config", config, "--output",
                               out, "--quiet", "--no-report", *extra], env=dict(ENV, **({"MPIMERGE_FAULT": fault} if fault else {})),
                              capture_output=True, text=True, cwd=work)
    killed = merge(paths["first"], fault="commit:0:0")
    check(killed.returncode != 0 and os.path.exists(out + ".partial.journal"),
          f"resume: the merge killed at its commit exited {killed.returncode}, journal {os.path.exists(out + '.partial.journal')}")
    r = merge(paths["other"], "--resume")
    check(r.returncode == 2 and "belongs to another merge" in r.stderr, f"resume with other tokens: exit {r.returncode}: {r.stderr[-400:]}")
    r = merge(paths["first"], "--resume")
    check(r.returncode == 0, f"resume with the same job: exit {r.returncode}: {r.stderr[-400:]}")


def main():
    work = tempfile.mkdtemp(prefix="mergekit-tokenizer-")
    try:
        make_models(work)
        ms = ["grown", "swapped", "replaced", "padded"]
        r = case(work, "union-pad", "task_arithmetic", "base", ms, "union", [0.5, 0.3, 0.4, 0.2], pad=8)
        if r:
            _, vocab, rows = r
            check(len(vocab) == 131 and rows == 136 and vocab["x_new"] == 128 and vocab["<tool>"] == 129
                  and vocab["</tool>"] == 130, f"union-pad: {len(vocab)} tokens, {rows} rows")
        r = case(work, "base-stripped", "task_arithmetic", "base2", ["grown", "swapped", "replaced"], "base", [0.5, 0.5, 0.5])
        if r:
            check("<extra>" not in json.load(open(os.path.join(r[0], "tokenizer.json")))["added_tokens"].__repr__(),
                  "base-stripped: the token past vocab_size is still in tokenizer.json")
            check(r[2] == 128, f"base-stripped: {r[2]} rows")
        r = case(work, "model-source", "linear", None, ["swapped", "grown", "replaced"], ("model", "grown"), [1.0, 2.0, 1.0])
        if r:
            check(r[2] == 130 and open(os.path.join(r[0], "tokenizer.json")).read() ==
                  open(os.path.join(work, "grown", "tokenizer.json")).read(),
                  "model-source: the output's tokenizer.json is not grown's")
        case(work, "union-no-base", "linear", None, ["swapped", "replaced"], "union", [1.0, 1.0])
        resume_with_other_tokens(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} of {CHECKS[0]} checks failed")
        sys.exit(1)
    print(f"mergekit tokenizer alignment: {CHECKS[0]} checks passed at {RANK_COUNTS} ranks")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""mpimerge's tsv_m, iso_c and iso_cts against an independent numpy port of FusionBench's code,
run under mpirun at several rank counts on checkpoints written by transformers
(../shared/fixtures: llama-tiny-bf16, gpt2-tiny-f32) and on generated ones (h5py).

References (read, re-implemented here with numpy; no code copied):
  tanganke/fusion_bench
    method/task_singular_vector/utils/TSVM_utils.py  compute_and_sum_svd_mem_reduction
    method/isotropic_merging/iso_utils.py            iso_c, iso_cts
    method/isotropic_merging/iso.py, method/task_singular_vector/TSVM.py  (θ = θ_base + λ M)

What is compared, and how exactly:
  * mpimerge runs with --dtype float64 (float64 arithmetic and output) and must agree with the
    port, also in float64, within 1e-5 of each tensor's update scale max |θ_ref − θ_base| (the
    methods' decompositions differ: LAPACK's dsyevr on a Gram matrix, or dgesdd, against numpy's
    dgesdd; both far inside that). A tensor whose update is zero must equal the base exactly.
  * The port is FusionBench's code as written ("literal") and the same with mpimerge's documented
    convention for numerically zero singular values (σ <= max(m, n) ε σ_max: their singular
    vectors are arbitrary in any SVD, so the literal code's result there is not a function of its
    inputs): such triplets are dropped and polar factors are taken over the non-zero directions.
    Where no such value occurs the two must agree (checked on every full-rank tensor); mpimerge is
    compared with the convention everywhere, rank-deficient task vectors included.
  * Every run is repeated at each rank count (default 1, 2 and 3) and must give identical bytes;
    runs in the checkpoints' own dtype (bfloat16 for the Llama) must too.

Usage: svd_reference.py MPIMERGE FIXTURES [RANKS...]
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np

MPIMERGE, FIXTURES = sys.argv[1], sys.argv[2]
RANK_COUNTS = [int(r) for r in sys.argv[3:]] or [1, 2, 3]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
EPS = np.finfo(np.float64).eps
FAILURES = []
CHECKS = [0]


def check(ok, what):
    CHECKS[0] += 1
    if not ok:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


# ---------------------------------------------------------------- checkpoints

SIZES = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    data = blob[8 + n:]
    out = {}
    for name, entry in header.items():
        begin, stop = entry["data_offsets"]
        raw = data[begin:stop]
        if entry["dtype"] == "BF16":
            values = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            values = np.frombuffer(raw, dtype={"F16": np.float16, "F32": np.float32, "F64": np.float64}[entry["dtype"]])
        out[name] = values.astype(np.float64).reshape(entry["shape"])
    return out


def read_hf_directory(path):
    tensors = {}
    for name in sorted(os.listdir(path)):
        if name.endswith(".safetensors"):
            tensors.update(read_safetensors(os.path.join(path, name)))
    return tensors


def read_h5(path):
    with h5py.File(path, "r") as f:
        out = {}
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        return out


def generated_checkpoints(work):
    """A base and three models: full-rank, wide and tall matrices, a 1 × n and an n × 1 matrix, a
    1-D and a 3-D tensor (averaged), a task vector of rank 2, a matrix every model changes the same
    way (rank-deficient concatenations), and one no model changes."""
    rng = np.random.default_rng(16)
    shapes = {
        "model.layers.0.self_attn.q_proj.weight": (24, 16),
        "model.layers.0.mlp.down_proj.weight": (12, 30),
        "model.layers.0.row.weight": (1, 20),
        "model.layers.0.column.weight": (20, 1),
        "model.layers.0.input_layernorm.weight": (16,),
        "model.layers.0.conv.weight": (4, 3, 2),
        "model.layers.1.rank_two.weight": (18, 10),
        "model.layers.1.shared.weight": (10, 10),
        "model.layers.1.unchanged.weight": (8, 6),
        "lm_head.weight": (40, 16),
    }
    # Dyadic bases, so that the exact rank-2 task vector is exact in float32 (a float32 rounding
    # of θ would make it numerically full rank).
    base = {n: (rng.integers(-64, 65, size=s) / 64).astype(np.float32) for n, s in shapes.items()}
    models = [{} for _ in range(3)]
    shared = {n: (0.01 * rng.standard_normal(s)).astype(np.float32) for n, s in shapes.items()}
    for m, model in enumerate(models):
        for name, shape in shapes.items():
            tau = 0.01 * rng.standard_normal(shape)
            if name.endswith("rank_two.weight") and m == 1:
                tau = (rng.integers(-8, 9, size=(shape[0], 2)) @ rng.integers(-8, 9, size=(2, shape[1]))) / 1024
            if name.endswith("shared.weight"):
                tau = shared[name]
            if name.endswith("unchanged.weight"):
                tau = np.zeros(shape)
            model[name] = (base[name] + tau).astype(np.float32)
    paths = []
    for label, tensors in [("base", base)] + [(f"ft-{i}", m) for i, m in enumerate(models)]:
        path = os.path.join(work, f"{label}.h5")
        with h5py.File(path, "w") as f:
            for name, value in tensors.items():
                f.create_dataset(name, data=value)
        paths.append(path)
    return paths


# ---------------------------------------------- FusionBench's functions, ported (literal)

def svd(a):
    return np.linalg.svd(a, full_matrices=False)


def tsv_m_literal(taus):
    """compute_and_sum_svd_mem_reduction, one key."""
    sv_reduction = 1 / len(taus)
    for i, vec in enumerate(taus):
        u, s, vh = svd(vec)
        if i == 0:
            sum_u, sum_s, sum_vh = np.zeros_like(u), np.zeros_like(s), np.zeros_like(vh)
        k = int(s.shape[0] * sv_reduction)
        sum_u[:, i * k:(i + 1) * k] = u[:, :k]
        sum_s[i * k:(i + 1) * k] = s[:k]
        sum_vh[i * k:(i + 1) * k, :] = vh[:k, :]
    u_u, _, vh_u = svd(sum_u)
    u_vh, _, vh_vh = svd(sum_vh)
    return u_u @ vh_u @ np.diag(sum_s) @ u_vh @ vh_vh


def iso_c_literal(taus):
    total = sum(taus)
    u, s, vh = svd(total)
    return u @ np.diag(np.ones_like(s) * s.mean()) @ vh


def iso_cts_literal(taus, fraction):
    shape = taus[0].shape
    combined = sum(taus)
    common = int(min(shape) * fraction)
    task_total = round((min(shape) - common) / len(taus)) * len(taus)
    common = min(shape) - task_total
    u, s, v = svd(combined)
    cu, cs, cv = u[:, :common], s[:common], v[:common, :]
    d = int((min(shape) - common) / len(taus))
    for i, w in enumerate(taus):
        w_ts = w - cu @ cu.T @ w
        u_ts, s_ts, v_ts = svd(w_ts)
        if i == 0:
            uu, ss, vv = np.zeros_like(u_ts), np.zeros_like(s_ts), np.zeros_like(v_ts)
        uu[:, i * d:(i + 1) * d] = u_ts[:, :d]
        ss[i * d:(i + 1) * d] = s_ts[:d]
        vv[i * d:(i + 1) * d, :] = v_ts[:d, :]
    t = len(taus) * d
    uu[:, t:t + common] = cu
    ss[t:t + common] = cs
    vv[t:t + common, :] = cv
    a, _, b = svd(uu)
    c, _, e = svd(vv)
    return (a @ b) @ np.diag(np.ones_like(ss) * ss.mean()) @ (c @ e)


# ------------------------------- the same, numerically zero singular values dropped

def kept(s, shape):
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.sum(s > max(shape) * EPS * s[0]))


def leading(a, k):
    u, s, vh = svd(a)
    k = min(k, kept(s[:k], a.shape))
    return u[:, :k], s[:k], vh[:k, :]


def polar(c):
    if c.shape[1] == 0:
        return c
    u, s, vh = svd(c)
    k = kept(s, c.shape)
    return u[:, :k] @ vh[:k, :]


def tsv_m_convention(taus):
    m, n = taus[0].shape
    k = int(min(m, n) * (1 / len(taus)))
    parts = [leading(t, k) for t in taus]
    u = np.concatenate([p[0] for p in parts], axis=1)
    s = np.concatenate([p[1] for p in parts])
    vh = np.concatenate([p[2] for p in parts], axis=0)
    return polar(u) @ np.diag(s) @ polar(vh.T).T


def iso_c_convention(taus):
    total = sum(taus)
    u, s, vh = svd(total)
    k = kept(s, total.shape)
    return s.mean() * u[:, :k] @ vh[:k, :]


def iso_cts_convention(taus, fraction):
    shape = taus[0].shape
    r = min(shape)
    common = int(r * fraction)
    common = r - round((r - common) / len(taus)) * len(taus)
    d = int((r - common) / len(taus))
    cu, cs, cv = leading(sum(taus), common)
    parts = [leading(w - cu @ (cu.T @ w), d) for w in taus] + [(cu, cs, cv)]
    u = np.concatenate([p[0] for p in parts], axis=1)
    s = np.concatenate([p[1] for p in parts])
    vh = np.concatenate([p[2] for p in parts], axis=0)
    return s.sum() / r * polar(u) @ polar(vh.T).T


def generic(taus):
    """Full-rank task vectors and sum, no two alike: FusionBench's code is then a function of its
    inputs (no numerically zero singular value where it looks) and the convention changes nothing."""
    for t in taus + [sum(taus)]:
        s = svd(t)[1]
        if kept(s, t.shape) < min(t.shape):
            return False
    return all(not np.array_equal(a, b) for i, a in enumerate(taus) for b in taus[i + 1:])


METHODS = {
    "tsv_m": (tsv_m_literal, tsv_m_convention),
    "iso_c": (iso_c_literal, iso_c_convention),
    "iso_cts": (iso_cts_literal, iso_cts_convention),
}


def reference(method, base, models, lam=1.0, fraction=0.8, exclude=()):
    """θ per tensor in float64; also checks literal == convention where the task vectors are full rank."""
    import fnmatch
    literal, convention = METHODS[method]
    out = {}
    for name, b in base.items():
        taus = [m[name] - b for m in models]
        if b.ndim == 2 and b.size > 0 and not any(fnmatch.fnmatchcase(name, p) for p in exclude):
            args = (fraction,) if method == "iso_cts" else ()
            update = convention(taus, *args)
            if generic(taus):
                lit = literal(taus, *args)
                scale = max(np.max(np.abs(lit)), 1e-300)
                check(np.max(np.abs(lit - update)) <= 1e-9 * scale,
                      f"{method}: {name}: the convention differs from FusionBench's code on full-rank task vectors")
        else:
            update = sum(taus) / len(taus)
        out[name] = b + lam * update
    return out


# ---------------------------------------------------------------- runs

def mpimerge(ranks, base, models, out, args):
    cmd = ["timeout", "300", "mpirun", "-n", str(ranks), "--oversubscribe", MPIMERGE, "merge", "--base", base]
    for m in models:
        cmd += ["--model", m]
    cmd += [*args, "--output", out, "--overwrite", "--quiet", "--no-report"]
    res = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"mpimerge failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout}\n{res.stderr}")


def run_everywhere(tag, base, models, args, work):
    """At every rank count; the outputs' bytes must agree; returns the first as float64 arrays."""
    results = []
    for r in RANK_COUNTS:
        out = os.path.join(work, f"{tag}-np{r}.h5")
        mpimerge(r, base, models, out, args)
        with h5py.File(out, "r") as f:
            raw = {}
            f.visititems(lambda n, o: raw.__setitem__(n, o[()].tobytes()) if isinstance(o, h5py.Dataset) else None)
        results.append((raw, read_h5(out)))
    for r, (raw, _) in zip(RANK_COUNTS[1:], results[1:]):
        for name in raw:
            check(raw[name] == results[0][0][name], f"{tag}: {name} differs between {RANK_COUNTS[0]} and {r} ranks")
    return results[0][1]


def compare(tag, got, ref, base):
    for name, r in ref.items():
        g = np.asarray(got[name], dtype=np.float64)
        scale = float(np.max(np.abs(r - base[name]))) if r.size else 0.0
        err = float(np.max(np.abs(g - r))) if r.size else 0.0
        if scale == 0:
            check(np.array_equal(g, base[name]), f"{tag}: {name}: a zero update must leave the base unchanged")
        else:
            check(err <= 1e-5 * scale, f"{tag}: {name}: max error {err:.3g} > 1e-5 x update scale {scale:.3g}")


def run_set(label, base_path, model_paths, base, models, configs, work):
    for method, params in configs:
        args = ["--method", method, "--dtype", "float64"]
        lam = params.get("lambda", 1.0)
        fraction = params.get("common_space_fraction", 0.8)
        exclude = params.get("exclude", "")
        if "lambda" in params:
            args += ["--lambda", str(lam)]
        if "common_space_fraction" in params:
            args += ["--common-space-fraction", str(fraction)]
        if exclude:
            args += ["--exclude", exclude]
        tag = f"{label}-{method}-" + "-".join(f"{k}{v}" for k, v in params.items()).replace("*", "x").replace(",", "_")
        got = run_everywhere(tag, base_path, model_paths, args, work)
        ref = reference(method, base, models, lam, fraction, tuple(p for p in exclude.split(",") if p))
        compare(tag, got, ref, base)
        print(f"ok      {tag}", flush=True)


def main():
    work = tempfile.mkdtemp()
    # Generated checkpoints (float32, h5py).
    paths = generated_checkpoints(work)
    base, *models = [read_h5(p) for p in paths]
    base = {k: v.astype(np.float64) for k, v in base.items()}
    models = [{k: v.astype(np.float64) for k, v in m.items()} for m in models]
    run_set("generated", paths[0], paths[1:], base, models, [
        ("tsv_m", {}),
        ("tsv_m", {"lambda": 0.7}),
        ("tsv_m", {"exclude": "model.layers.*"}),  # one matrix: more ranks than matrices
        ("iso_c", {}),
        ("iso_c", {"exclude": "lm_head.weight,*q_proj*"}),
        ("iso_cts", {}),
        ("iso_cts", {"common_space_fraction": 0.5, "lambda": 1.3}),
    ], work)

    # Checkpoints written by transformers.
    for name, tasks in [("llama-tiny-bf16", ["ft-math", "ft-code", "ft-chat"]), ("gpt2-tiny-f32", ["ft-a", "ft-b"])]:
        root = os.path.join(FIXTURES, name)
        base = read_hf_directory(os.path.join(root, "base"))
        models = [read_hf_directory(os.path.join(root, t)) for t in tasks]
        run_set(name, os.path.join(root, "base"), [os.path.join(root, t) for t in tasks], base, models, [
            ("tsv_m", {}),
            ("iso_c", {"lambda": 0.5}),
            ("iso_cts", {}),
            ("iso_cts", {"common_space_fraction": 0.5}),
        ], work)

    # The Llama merged in its own dtype (float32 arithmetic, bfloat16 output): the same bytes at
    # every rank count, and within a bfloat16 rounding of the reference.
    root = os.path.join(FIXTURES, "llama-tiny-bf16")
    base = read_hf_directory(os.path.join(root, "base"))
    models = [read_hf_directory(os.path.join(root, t)) for t in ["ft-math", "ft-code", "ft-chat"]]
    for method in METHODS:
        got = run_everywhere(f"llama-bf16-{method}", os.path.join(root, "base"),
                             [os.path.join(root, t) for t in ["ft-math", "ft-code", "ft-chat"]], ["--method", method], work)
        ref = reference(method, base, models)
        for name, r in ref.items():
            g = (np.asarray(got[name]).astype(np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64) \
                if np.asarray(got[name]).dtype == np.uint16 else np.asarray(got[name], dtype=np.float64)
            check(np.all(np.abs(g - r) <= np.abs(r) * 2.0 ** -8 + 1e-30),
                  f"llama-bf16-{method}: {name}: more than one bfloat16 rounding from the reference")
        print(f"ok      llama-bf16-{method}", flush=True)

    print(f"{CHECKS[0]} checks, {len(FAILURES)} failures")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""mpimerge's mergekit-family methods against an independent numpy re-implementation of the
reference code, run under mpirun at several rank counts on small h5py checkpoints.

References (read, re-implemented here; no code copied):
  mergekit (arcee-ai/mergekit):
    merge_methods/generalized_task_arithmetic.py  GTATask.execute, get_task_vectors, get_mask
    merge_methods/registry.py                     per-method defaults (normalize, rescale)
    sparsify.py                                   magnitude, magnitude_outliers, bernoulli,
                                                  della_magprune, rescaled_masked_tensor
    merge_methods/linear.py                       LinearMergeTask.execute
    merge_methods/slerp.py                        slerp, lerp, normalize
    merge_methods/model_stock.py                  ModelStockMergeTask.execute
    merge_methods/nuslerp.py, multislerp.py, karcher.py, sce.py, arcee_fusion.py, nearswap.py:
                                                  ported in mergekit_ports.py
  PEFT (huggingface/peft), src/peft/utils/merge_utils.py:
    magnitude_based_pruning, prune, calculate_majority_sign_mask, disjoint_merge, ties,
    magnitude_prune, task_arithmetic

What is compared, and how exactly:
  * Deterministic task-vector methods (task_arithmetic, ties, magnitude_prune, breadcrumbs,
    breadcrumbs_ties, PEFT ties/magnitude_prune, linear): bit-exact values (== on float32).
    The reference does the float32 operations in mergekit's order (w * tau, sums over models in
    model order, divide, times lambda, add to the base).
  * Ties at a magnitude cut: torch's argsort/sort/topk (mergekit, PEFT) leave equal magnitudes
    in an unspecified order (on CPU they are not stable), so any choice among tied entries is a
    valid reference result. mpimerge breaks ties by index (lower index counts as larger); the
    reference here does the same, and separately every kept set is checked to be *a* valid torch
    outcome (exact count, and no dropped magnitude above a kept one inside the band).
  * rescale: l1 (and rescale: true for the deterministic methods): mergekit sums |tau| in float32
    with torch; mpimerge sums exactly and rounds once. The reference uses exact sums (math.fsum),
    so the comparison is exact; against float32 sums the factor could differ in its last bits.
  * slerp, model_stock: mergekit computes norms, dots and coefficients in float32 (numpy/torch);
    mpimerge in exact sums and double coefficients rounded to float32. Compared with a tolerance
    of 2e-6 times the tensor's largest magnitude (a few float32 ulps), and against the same
    formulas in float64 with the same tolerance.
  * Random methods (dare_*, della*): torch's RNG cannot be matched. Checked: density 1 equals the
    deterministic counterpart exactly; each model's kept set (recovered from mpimerge's output
    with the other models equal to the base, which leaves the draw unchanged) has the expected
    size (within 5 sigma), DELLA keeps larger magnitudes more often, kept entries are exactly
    tau / density (tau / p for DELLA) or tau * L1 factor, and the full merge equals the
    reference recomputed from those kept sets.
  * nearswap, sce: bit-exact (sce's means of squares with exact sums, its variance as torch's CPU
    kernel: Welford in double; equal variances at the cut by index, as the magnitude cut).
  * nuslerp, multislerp, karcher: within 2e-6 of the tensor's largest magnitude of the float32
    port (mergekit's float32 norms, dots and coefficients) and of the float64 one; nuslerp's lerp of
    colinear vectors bit-exact. multislerp's tangent step is checked to vanish (float64 port).
  * arcee_fusion: bit-exact against the port computing the divergence in double (as mpimerge);
    against the float32 port, entries may differ only where the importance lies within 1e-4 of
    the threshold (rounding decides there).
Every run is repeated at each rank count given (default 1 and 3) and must give identical values.

Usage: mergekit_reference.py MPIMERGE [RANKS...]
"""
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mergekit_ports as ports  # noqa: E402

MPIMERGE = sys.argv[1]
RANK_COUNTS = [int(r) for r in sys.argv[2:]] or [1, 3]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
F32 = np.float32
FAILURES = []
CHECKS = [0]

# name -> (shape, kind): "smooth" task vectors have (almost surely) distinct magnitudes;
# "ties" ones take a handful of dyadic values, so every cut falls inside a run of equal
# magnitudes; "tiny" ones are nearly parallel to the base (slerp's linear fallback).
TENSORS = {
    "model.layers.0.mlp.down_proj.weight": ((64, 48), "smooth"),
    "model.layers.0.self_attn.q_proj.weight": ((64, 48), "ties"),
    "model.layers.0.input_layernorm.weight": ((48,), "ties"),
    "model.layers.0.mlp.bias": ((100,), "tiny"),
}
NAMES = list(TENSORS)


def check(ok, what):
    CHECKS[0] += 1
    if not ok:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


# ---------------------------------------------------------------- checkpoints

def make_checkpoints(rng, models=3):
    base, fts = {}, [dict() for _ in range(models)]
    for name, (shape, kind) in TENSORS.items():
        if kind == "ties":
            # dyadic values: theta and tau = theta - base are exact in float32
            b = (rng.integers(-32, 33, size=shape) / 32).astype(F32)
            base[name] = b
            for ft in fts:
                ft[name] = (b + rng.integers(-6, 7, size=shape) / 64).astype(F32)
        else:
            scale = 0.05 if kind == "smooth" else 0.004
            b = (rng.standard_normal(shape) * 0.5).astype(F32)
            base[name] = b
            for ft in fts:
                # |delta| bounded below, so base + delta / density never rounds back to base
                mag = scale * (0.2 + np.abs(rng.standard_normal(shape)))
                ft[name] = (b + np.where(rng.random(shape) < 0.5, -mag, mag)).astype(F32)
    return base, fts


def write_h5(path, tensors):
    with h5py.File(path, "w") as f:
        for name, value in tensors.items():
            f.create_dataset(name, data=np.asarray(value, dtype=F32))


def read_h5(path):
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in NAMES}


def mpimerge(ranks, args, out):
    cmd = ["timeout", "300", "mpirun", "-n", str(ranks), "--oversubscribe", MPIMERGE, "merge", *args,
           "--output", out, "--overwrite", "--quiet", "--no-report"]
    res = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"mpimerge failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout}\n{res.stderr}")
    return read_h5(out)


def run_all_ranks(tag, args, work):
    """Runs at every rank count; returns the first result after checking they all agree."""
    results = [mpimerge(r, args, os.path.join(work, f"{tag}-np{r}.h5")) for r in RANK_COUNTS]
    for r, res in zip(RANK_COUNTS[1:], results[1:]):
        for name in NAMES:
            check(np.array_equal(res[name], results[0][name]),
                  f"{tag}: {name} differs between {RANK_COUNTS[0]} and {r} ranks")
    return results[0]


def job_yaml(path, method, base, models, global_params=None, model_params=None):
    """A mergekit job file. model_params: one dict per model (or None)."""
    lines = [f"merge_method: {method}"]
    if base:
        lines.append(f"base_model: {base}")
    lines.append("models:")
    for i, m in enumerate(models):
        lines.append(f"  - model: {m}")
        if model_params and model_params[i]:
            body = ", ".join(f"{k}: {v}" for k, v in model_params[i].items())
            lines.append(f"    parameters: {{{body}}}")
    if global_params:
        lines.append("parameters: {" + ", ".join(f"{k}: {v}" for k, v in global_params.items()) + "}")
    lines.append("dtype: float32")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# ------------------------------------------------- mergekit sparsify.py (re-implemented)

def descending_order(tau):
    """Flat indices by magnitude, largest first, equal magnitudes by index (one of the orders
    torch.argsort(descending=True) may produce)."""
    return np.argsort(-np.abs(tau).ravel(), kind="stable")


def magnitude_mask(tau, density):
    """sparsify.magnitude / PEFT magnitude_based_pruning: the int(density * n) largest."""
    n = tau.size
    mask = np.zeros(n, dtype=bool)
    if density >= 1:
        mask[:] = True
        return mask.reshape(tau.shape)
    k = int(density * n)
    mask[descending_order(tau)[:k]] = True
    return mask.reshape(tau.shape)


def outlier_band(n, density, gamma):
    """sparsify.magnitude_outliers' counts: (n_top, n_bot) dropped."""
    target = int(density * n)
    n_top = int(gamma * n)
    n_bot = n - target - n_top
    if n_bot < 0:
        n_top += n_bot
        n_bot = 0
    return n_top, n_bot


def outlier_mask(tau, density, gamma, literal=False):
    """sparsify.magnitude_outliers: drop the n_top largest and the n_bot smallest.
    mergekit writes `indices[n_bot:-n_top]` over the ascending order; with n_top == 0 Python's
    slice [n_bot:-0] is empty and nothing is kept (literal=True gives that); mpimerge keeps the
    intended band (everything but the n_bot smallest)."""
    n = tau.size
    mask = np.zeros(n, dtype=bool)
    if density >= 1:
        mask[:] = True
        return mask.reshape(tau.shape)
    n_top, n_bot = outlier_band(n, density, gamma)
    if literal and n_top == 0:
        return mask.reshape(tau.shape)
    mask[descending_order(tau)[n_top:n - n_bot]] = True
    return mask.reshape(tau.shape)


def l1_rescaled(tau, mask):
    """sparsify.rescaled_masked_tensor(norm=l1) with exact sums (see the module docstring)."""
    masked = np.where(mask, tau, F32(0)).astype(F32)
    before = math.fsum(np.abs(tau.astype(np.float64)).ravel())
    after = math.fsum(np.abs(masked.astype(np.float64)).ravel())
    if before < 1e-7 or after < 1e-7:
        return masked
    return (masked * F32(before / after)).astype(F32)


def valid_topk(tau, mask, lo, hi):
    """mask keeps descending positions [lo, hi) under SOME order of equal magnitudes."""
    mag = np.abs(tau).ravel()
    kept = mask.ravel()
    if kept.sum() != hi - lo:
        return False
    if kept.all() or not kept.any():
        return True
    srt = np.sort(mag)[::-1]
    top = srt[lo - 1] if lo > 0 else np.inf  # smallest dropped-as-outlier magnitude
    bottom = srt[hi] if hi < mag.size else -np.inf  # largest dropped-as-small magnitude
    return bool(np.all(mag[kept] <= top) and np.all(mag[kept] >= bottom))


# ------------------------------------- mergekit generalized_task_arithmetic.py (re-implemented)

def gta(base, taus, weights, consensus=None, normalize=False, lam=1.0):
    """GTATask.execute after sparsification: taus are the sparsified float32 task vectors."""
    w = [F32(x) for x in weights]
    x = [(t * wi).astype(F32) for t, wi in zip(taus, w)]
    if consensus:
        s = np.zeros_like(base)
        for xi in x:
            s = (s + (xi if consensus == "sum" else np.sign(xi))).astype(F32)
        majority = np.where(s >= 0, F32(1), F32(-1))
        mixed = np.zeros_like(base)
        divisor = np.zeros_like(base)
        for xi, wi in zip(x, w):
            agree = np.sign(xi) == majority
            mixed = (mixed + np.where(agree, xi, F32(0))).astype(F32)
            divisor = (divisor + np.where(agree, wi, F32(0))).astype(F32)
        divisor[divisor == 0] = 1
    else:
        mixed = np.zeros_like(base)
        for xi in x:
            mixed = (mixed + xi).astype(F32)
        divisor = F32(0)
        for wi in w:
            divisor = F32(divisor + wi)
        if abs(divisor) < 1e-8:
            divisor = F32(1)
    if normalize:
        mixed = (mixed / divisor).astype(F32)
    if lam != 1:
        mixed = (mixed * F32(lam)).astype(F32)
    return (base + mixed).astype(F32)


def mergekit_task_vector_method(base, fts, weights, densities, sparsify, consensus, normalize, lam=1.0,
                                gamma=None, rescale=False, literal_outliers=False):
    out = {}
    for name in NAMES:
        b = base[name]
        taus = []
        for ft, d, g in zip(fts, densities, gamma or [None] * len(fts)):
            tau = (ft[name] - b).astype(F32)
            dn = d(name) if callable(d) else d
            if sparsify == "magnitude":
                mask = magnitude_mask(tau, dn)
            elif sparsify == "outliers":
                mask = outlier_mask(tau, dn, g, literal_outliers)
            else:
                mask = np.ones(tau.shape, dtype=bool)
            if sparsify and dn < 1 and rescale:
                taus.append(l1_rescaled(tau, mask))
            else:
                taus.append(np.where(mask, tau, F32(0)).astype(F32))
        out[name] = gta(b, taus, weights, consensus, normalize, lam)
    return out


# --------------------------------------------------- PEFT merge_utils.py (re-implemented)

def peft_method(base, fts, weights, density, kind, majority="total"):
    out = {}
    for name in NAMES:
        b = base[name]
        pruned = []
        for ft in fts:
            tau = (ft[name] - b).astype(F32)
            pruned.append(np.where(magnitude_mask(tau, density), tau, F32(0)).astype(F32))
        w = [F32(x) for x in weights]
        weighted = [(p * wi).astype(F32) for p, wi in zip(pruned, w)]
        if kind == "magnitude_prune":
            mixed = np.zeros_like(b)
            for x in weighted:
                mixed = (mixed + x).astype(F32)
        else:  # ties: sign from the *unweighted* pruned tensors, mean over the agreeing count
            s = np.zeros_like(b)
            for p in pruned:
                s = (s + (p if majority == "total" else np.sign(p))).astype(F32)
            sign = np.where(s >= 0, F32(1), F32(-1))
            mixed = np.zeros_like(b)
            count = np.zeros_like(b)
            for p, x in zip(pruned, weighted):
                agree = np.sign(p) == sign
                mixed = (mixed + np.where(agree, x, F32(0))).astype(F32)
                count = (count + agree.astype(F32)).astype(F32)
            mixed = (mixed / np.maximum(count, F32(1))).astype(F32)
        out[name] = (b + mixed).astype(F32)
    return out


# -------------------------------------------- linear.py, slerp.py, model_stock.py (re-implemented)

def mergekit_linear(fts, weights, normalize):
    out = {}
    for name in NAMES:
        w = [F32(x) for x in weights]
        res = np.zeros_like(fts[0][name])
        for ft, wi in zip(fts, w):
            res = (res + ft[name] * wi).astype(F32)
        if normalize:
            total = F32(0)
            for wi in w:
                total = F32(total + wi)
            res = (res / total).astype(F32)
        out[name] = res
    return out


def slerp_ref(t, v0, v1, dtype):
    """slerp.slerp in the given precision (mergekit: float32 numpy). Returns (result, lerped)."""
    a, b = v0.astype(dtype).ravel(), v1.astype(dtype).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    an = a / na if na > 1e-8 else a
    bn = b / nb if nb > 1e-8 else b
    dot = np.sum(an * bn, dtype=dtype)
    if abs(dot) > 0.9995:
        c0, c1, lerped = 1 - t, t, True
    else:
        theta0 = np.arccos(dot)
        s = np.sin(theta0)
        c0, c1, lerped = np.sin(theta0 - theta0 * t) / s, np.sin(theta0 * t) / s, False
    res = (F32(c0) * v0.astype(F32) + F32(c1) * v1.astype(F32)).astype(F32)
    return res, lerped


def model_stock_ref(base, fts, filter_wise, dtype):
    out = {}
    for name in NAMES:
        w0 = base[name].astype(dtype)
        ws = [ft[name].astype(dtype) for ft in fts]
        shape = w0.shape
        if filter_wise:
            w0r = w0.reshape(1, -1) if w0.ndim == 1 else w0
            wsr = [w.reshape(1, -1) if w.ndim == 1 else w for w in ws]
        else:
            w0r, wsr = w0.reshape(1, -1), [w.reshape(1, -1) for w in ws]
        offs = [w - w0r for w in wsr]
        coss = []
        for i in range(len(offs)):
            for j in range(i + 1, len(offs)):
                norm = np.linalg.norm(offs[i], axis=-1) * np.linalg.norm(offs[j], axis=-1)
                coss.append(np.clip(np.sum(offs[i] * offs[j], axis=-1) / np.maximum(norm, 1e-6), -1, 1))
        cos = np.mean(np.stack(coss), axis=0)[:, None].astype(dtype)
        n = len(ws)
        t = (n * cos / (1 + (n - 1) * cos)).astype(F32)
        avg = np.zeros_like(wsr[0], dtype=F32)
        for w in wsr:
            avg = (avg + w.astype(F32)).astype(F32)
        avg = (avg / F32(n)).astype(F32)
        out[name] = (t * avg + (F32(1) - t) * w0r.astype(F32)).astype(F32).reshape(shape)
    return out


# ---------------------------------------------------------------- comparisons

def compare_exact(tag, got, ref):
    for name in NAMES:
        g, r = got[name], ref[name]
        same = g.shape == r.shape and np.array_equal(g, r)
        if not same and g.shape == r.shape:
            bad = np.flatnonzero(g.ravel() != r.ravel())
            detail = f"{bad.size} of {g.size} differ, first at {bad[0]}: {g.ravel()[bad[0]]!r} vs {r.ravel()[bad[0]]!r}"
        else:
            detail = f"shape {g.shape} vs {r.shape}" if not same else ""
        check(same, f"{tag}: {name}: {detail}")


def compare_close(tag, got, ref, rel=2e-6):
    for name in NAMES:
        g, r = got[name].astype(np.float64), ref[name].astype(np.float64)
        tol = rel * max(np.max(np.abs(r)), 1e-30)
        err = float(np.max(np.abs(g - r)))
        check(err <= tol, f"{tag}: {name}: max error {err:.3g} > {tol:.3g}")


# ---------------------------------------------------------------- the tests

def mpimerge_fails(args, out):
    """Runs at 1 rank a merge that must fail; returns (exit code, output)."""
    cmd = ["timeout", "300", "mpirun", "-n", "1", MPIMERGE, "merge", *args, "--output", out, "--overwrite",
           "--quiet", "--no-report"]
    res = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    return res.returncode, res.stdout + res.stderr


def check_spherical_and_selection_methods(work, base, fts, base_path, paths, zero_paths, job):
    """nearswap, nuslerp, multislerp, karcher, sce, arcee_fusion against mergekit_ports.py."""
    per_model = lambda n, **cols: [{k: v[i] for k, v in cols.items()} for i in range(n)]
    f32, f64 = np.float32, np.float64

    # ---- nearswap: element-wise, bit-exact
    for t in (0.001, 0.05):
        got = job(f"nearswap_{t}", "nearswap", {"t": t}, models=paths[:1])
        compare_exact(f"mergekit nearswap t={t}", got, {n: ports.nearswap(t, base[n], fts[0][n]) for n in NAMES})
    got = run_all_ranks("nearswap_cli", ["--method", "nearswap", "--t", "0.02", "--base", base_path,
                                         "--model", paths[1]], work)
    compare_exact("mergekit nearswap (command line)", got, {n: ports.nearswap(0.02, base[n], fts[1][n]) for n in NAMES})

    # ---- nuslerp: t = 0.9 / 1.2; the whole tensor, rows, columns; task vectors or the models
    nw = [0.3, 0.9]
    for flatten, row_wise in ((True, False), (False, False), (False, True)):
        for with_base in (True, False):
            tag = f"nuslerp_{flatten}_{row_wise}_{with_base}"
            params = {"nuslerp_flatten": str(flatten).lower(), "nuslerp_row_wise": str(row_wise).lower()}
            got = job(tag, "nuslerp", params, per_model(2, weight=nw), models=paths[:2],
                      base_model=base_path if with_base else None)
            for dtype in (f32, f64):
                ref = {n: ports.nuslerp(nw, [fts[0][n], fts[1][n]], base[n] if with_base else None, row_wise,
                                        flatten, dtype)[0] for n in NAMES}
                compare_close(f"mergekit {tag} ({dtype.__name__} port)", got, ref)
            if with_base and not flatten and row_wise:
                # mergekit's habit of listing the base among the models: it is the base, not a model.
                path = job_yaml(os.path.join(work, tag + "-listed.yaml"), "nuslerp", base_path,
                                [base_path] + paths[:2], params, [None] + per_model(2, weight=nw))
                compare_exact("nuslerp with the base listed among the models", run_all_ranks(
                    tag + "-listed", ["--config", path], work), got)
    # Two equal vectors (two copies of the base, no base given) are colinear: mergekit's lerp,
    # bit for bit. (mergekit's float32 cos of two equal vectors is often 1 - 6e-8, and then its
    # spherical branch gives the same values up to rounding: compared within the tolerance.)
    got = job("nuslerp_colinear", "nuslerp", None, per_model(2, weight=nw), models=zero_paths[:2], base_model=None)
    compare_exact("mergekit nuslerp colinear (lerp)", got,
                  {n: (F32(1 - 0.75) * base[n] + F32(0.75) * base[n]).astype(F32) for n in NAMES})
    for dtype in (f32, f64):
        compare_close(f"mergekit nuslerp colinear ({dtype.__name__} port)", got,
                      {n: ports.nuslerp(nw, [base[n], base[n]], None, False, True, dtype)[0] for n in NAMES})

    # ---- multislerp: weights normalised or not, task vectors or the models
    mw = [1.0, 0.7, 0.5]
    for normalize in ("true", "false"):
        for with_base in (True, False):
            tag = f"multislerp_{normalize}_{with_base}"
            got = job(tag, "multislerp", {"normalize_weights": normalize}, per_model(3, weight=mw),
                      base_model=base_path if with_base else None)
            for dtype in (f32, f64):
                ref = {}
                for n in NAMES:
                    ref[n], tangent = ports.multislerp(mw, [ft[n] for ft in fts], base[n] if with_base else None,
                                                       normalize == "true", 1e-8, dtype)
                    if dtype is f64:
                        check(tangent < 1e-12, f"{tag} {n}: the tangent step does not vanish ({tangent:.3g})")
                compare_close(f"mergekit {tag} ({dtype.__name__} port)", got, ref)
    # Task vectors d and -d with equal weights cancel: two models fall back to the weighted sum,
    # three are refused (mergekit raises there too).
    rng = np.random.default_rng(7)
    dyadic = {n: (rng.integers(-32, 33, size=base[n].shape) / 32).astype(F32) for n in NAMES}
    d = {n: (rng.integers(-8, 9, size=base[n].shape) / 64).astype(F32) for n in NAMES}
    dyadic_path = os.path.join(work, "dyadic-base.h5")
    pm = [os.path.join(work, "plus.h5"), os.path.join(work, "minus.h5")]
    write_h5(dyadic_path, dyadic)
    write_h5(pm[0], {n: (dyadic[n] + d[n]).astype(F32) for n in NAMES})
    write_h5(pm[1], {n: (dyadic[n] - d[n]).astype(F32) for n in NAMES})
    plus, minus = read_h5(pm[0]), read_h5(pm[1])
    check(all(np.array_equal(plus[n] - dyadic[n], dyadic[n] - minus[n]) for n in NAMES), "antipodal test data")
    got = job("multislerp_antipodal", "multislerp", None, per_model(2, weight=[1.0, 1.0]), models=pm,
              base_model=dyadic_path)
    compare_exact("mergekit multislerp antipodal (weighted sum)", got,
                  {n: ports.multislerp([1.0, 1.0], [plus[n], minus[n]], dyadic[n], True, 1e-8, f32)[0] for n in NAMES})
    check(all(np.array_equal(got[n], dyadic[n]) for n in NAMES), "multislerp antipodal: not the base")
    path = job_yaml(os.path.join(work, "multislerp_antipodal3.yaml"), "multislerp", dyadic_path, pm + [paths[0]],
                    None, per_model(3, weight=[1.0, 1.0, 0.0]))
    code, text = mpimerge_fails(["--config", path], os.path.join(work, "antipodal3.h5"))
    check(code == 1 and "cancel" in text, f"multislerp: three models whose unit vectors cancel: {code} {text}")

    # ---- karcher: the base is one more input when given
    for with_base, max_iter, tol in ((True, 10, 1e-5), (False, 10, 1e-5), (False, 0, 1e-5), (True, 10, 0.05)):
        tag = f"karcher_{with_base}_{max_iter}_{tol}"
        got = job(tag, "karcher", {"max_iter": max_iter, "tol": tol}, base_model=base_path if with_base else None)
        for dtype in (f32, f64):
            ref = {n: ports.karcher([ft[n] for ft in fts] + ([base[n]] if with_base else []), max_iter, tol, dtype)[0]
                   for n in NAMES}
            compare_close(f"mergekit {tag} ({dtype.__name__} port)", got, ref)

    # ---- sce: bit-exact; the dyadic tensors put runs of equal variances across every cut
    for topk in (1.0, 0.3, 0.05, 0.0):
        got = job(f"sce_{topk}", "sce", {"select_topk": topk})
        compare_exact(f"mergekit sce select_topk={topk}", got,
                      {n: ports.sce(base[n], [ft[n] for ft in fts], topk) for n in NAMES})
    got8 = job("sce_int8", "sce", {"select_topk": 0.3, "int8_mask": "true"})
    compare_exact("mergekit sce int8_mask (no effect on the values)", got8, job("sce_0.3b", "sce", {"select_topk": 0.3}))

    # ---- arcee_fusion: exact with the divergence in double; near the threshold against float32
    for i in range(2):
        got = job(f"arcee_fusion_{i}", "arcee_fusion", None, models=paths[i:i + 1])
        ref64 = {n: ports.arcee_fusion(base[n], fts[i][n], ports.kl_rows_double)[0] for n in NAMES}
        compare_exact(f"mergekit arcee_fusion model {i} (divergence in double)", got, ref64)
        for n in NAMES:
            ref32, importance, threshold = ports.arcee_fusion(base[n], fts[i][n], ports.kl_rows_float32)
            differ = got[n] != ref32
            near = np.abs(importance - threshold) <= 1e-4 * abs(float(threshold))
            check(np.all(near[differ]), f"arcee_fusion model {i} {n}: {int(differ.sum())} entries differ from the "
                                        f"float32 port, {int((differ & ~near).sum())} away from the threshold")
            fused = got[n] != base[n]
            check(TENSORS[n][1] == "ties" or 0 < fused.sum() < fused.size, f"arcee_fusion model {i} {n}: fused {int(fused.sum())} entries")


def main():
    rng = np.random.default_rng(20240611)
    work = tempfile.mkdtemp(prefix="mpimerge-mergekit-ref-")
    base, fts = make_checkpoints(rng)
    paths = [os.path.join(work, f"ft-{i}.h5") for i in range(len(fts))]
    base_path = os.path.join(work, "base.h5")
    # "fine-tunes" equal to the base (tau = 0), one file per model slot (inputs must differ)
    zero_paths = [os.path.join(work, f"zero-{i}.h5") for i in range(len(fts))]
    write_h5(base_path, base)
    for z in zero_paths:
        write_h5(z, base)
    for p, ft in zip(paths, fts):
        write_h5(p, ft)
    cli = ["--base", base_path] + [a for p in paths for a in ("--model", p)]

    def job(tag, method, global_params=None, model_params=None, models=None, base_model=base_path):
        path = job_yaml(os.path.join(work, tag + ".yaml"), method, base_model, models or paths,
                        global_params, model_params)
        return run_all_ranks(tag, ["--config", path], work)

    W = [1.0, 0.7, 0.5]
    # weights whose float32 sum in model order (torch's weights.sum()) is not the float32
    # rounding of their exact sum: 1.3199999 against 1.32
    LW = [0.03, 0.75, 0.54]
    mp = lambda **cols: [{k: v[i] for k, v in cols.items()} for i in range(3)]

    # int(density * n) as Python computes it: 0.29 * 100 = 28.999999999999996 -> 28.
    check(int(0.29 * 100) == 28, "python int(0.29 * 100)")

    # ---- task_arithmetic (generalized_task_arithmetic, no sparsification, no consensus)
    got = job("task_arithmetic", "task_arithmetic", {"lambda": 0.7}, mp(weight=W))
    compare_exact("task_arithmetic", got, mergekit_task_vector_method(base, fts, W, [1] * 3, None, None, False, 0.7))
    got = job("task_arithmetic_norm", "task_arithmetic", {"normalize": "true"}, mp(weight=LW))
    compare_exact("task_arithmetic normalize", got,
                  mergekit_task_vector_method(base, fts, LW, [1] * 3, None, None, True))
    got = run_all_ranks("task_arithmetic_cli", ["--method", "task_arithmetic", "--lambda", "1.5", *cli], work)
    compare_exact("task_arithmetic (command line)", got,
                  mergekit_task_vector_method(base, fts, [1] * 3, [1] * 3, None, None, False, 1.5))

    # ---- ties (mergekit): magnitude, sum consensus, normalize true by default
    dens = [0.5, 0.29, 0.3]
    got = job("ties", "ties", {"lambda": 1.3}, mp(weight=W, density=dens))
    ref = mergekit_task_vector_method(base, fts, W, dens, "magnitude", "sum", True, 1.3)
    compare_exact("mergekit ties", got, ref)
    got = job("ties_count", "ties", {"consensus": "count", "normalize": "false"}, mp(weight=W, density=dens))
    compare_exact("mergekit ties consensus count", got,
                  mergekit_task_vector_method(base, fts, W, dens, "magnitude", "count", False))
    got = job("ties_rescale", "ties", {"rescale": "true"}, mp(weight=W, density=dens))
    compare_exact("mergekit ties rescale (l1)", got,
                  mergekit_task_vector_method(base, fts, W, dens, "magnitude", "sum", True, rescale=True))
    got = job("ties_density1", "ties", None, mp(weight=W, density=[1.0, 1.0, 1.0]))
    compare_exact("mergekit ties density 1", got,
                  mergekit_task_vector_method(base, fts, W, [1] * 3, None, "sum", True))

    # The kept sets of a magnitude cut are valid torch outcomes (exact count; ties anywhere).
    for name in NAMES:
        for ft, d in zip(fts, dens):
            tau = (ft[name] - base[name]).astype(F32)
            k = int(d * tau.size)
            check(valid_topk(tau, magnitude_mask(tau, d), 0, k), f"reference magnitude mask {name}")
    # mpimerge's own kept set, read from a one-model magnitude_prune (weight 1, lambda 1).
    for i, d in enumerate(dens):
        models = list(zero_paths)
        models[i] = paths[i]
        got = job(f"mp_isolate{i}", "magnitude_prune", {"weight": 1.0, "density": d}, models=models)
        for name in NAMES:
            tau = (fts[i][name] - base[name]).astype(F32)
            kept = got[name] != base[name]  # a kept zero of tau is invisible: compare on tau != 0
            if TENSORS[name][1] != "ties":
                check(valid_topk(tau, kept, 0, int(d * tau.size)),
                      f"magnitude_prune model {i} {name}: {int(kept.sum())} kept, not a top int(density*n)")
            check(np.array_equal(kept, magnitude_mask(tau, d) & (tau != 0)),
                  f"magnitude_prune model {i} {name}: kept set is not the top-k with ties broken by index")

    # ---- PEFT ties (weights 1: the same as mergekit's) and magnitude_prune
    got = job("peft_ties", "ties", None, mp(weight=[1.0] * 3, density=[0.3] * 3))
    compare_exact("PEFT ties (total)", got, peft_method(base, fts, [1.0] * 3, 0.3, "ties", "total"))
    got = job("peft_ties_count", "ties", {"consensus": "count"}, mp(weight=[1.0] * 3, density=[0.3] * 3))
    compare_exact("PEFT ties (frequency)", got, peft_method(base, fts, [1.0] * 3, 0.3, "ties", "frequency"))
    got = job("magnitude_prune", "magnitude_prune", {"density": 0.29}, mp(weight=W))
    compare_exact("PEFT magnitude_prune", got, peft_method(base, fts, W, 0.29, "magnitude_prune"))
    got = run_all_ranks("magnitude_prune_cli", ["--method", "magnitude_prune", "--density", "0.3", *cli], work)
    compare_exact("PEFT magnitude_prune (command line)", got, peft_method(base, fts, [1] * 3, 0.3, "magnitude_prune"))
    compare_exact("mergekit-style magnitude_prune (command line)", got,
                  mergekit_task_vector_method(base, fts, [1] * 3, [0.3] * 3, "magnitude", None, False))

    # ---- breadcrumbs, breadcrumbs_ties (magnitude_outliers)
    for n in (48, 100, 3072):
        for d, g in ((0.9, 0.01), (0.8, 0.05), (0.5, 0.3), (0.2, 0.9)):
            n_top, n_bot = outlier_band(n, d, g)
            check(0 <= n_top and 0 <= n_bot and n - n_top - n_bot == int(d * n), f"outlier_band({n}, {d}, {g})")
    dens, gam = [0.8, 0.9, 0.7], [0.05, 0.05, 0.1]  # every tensor drops at least one outlier
    for method, cons in (("breadcrumbs", None), ("breadcrumbs_ties", "sum")):
        got = job(method, method, {"lambda": 0.9}, mp(weight=W, density=dens, gamma=gam))
        ref = mergekit_task_vector_method(base, fts, W, dens, "outliers", cons, False, 0.9, gamma=gam)
        compare_exact(f"mergekit {method}", got, ref)
        lit = mergekit_task_vector_method(base, fts, W, dens, "outliers", cons, False, 0.9, gamma=gam,
                                          literal_outliers=True)
        compare_exact(f"mergekit {method} (literal slice, n_top > 0 everywhere)", got, lit)
    # gamma 0.01: int(0.01 * 48) = 0 outliers on the 48-entry tensor; mergekit's indices[n_bot:-0]
    # is empty there and keeps nothing. mpimerge keeps the intended band (docs/methods.md).
    got = job("breadcrumbs_ties_g001", "breadcrumbs_ties", {"density": 0.9, "gamma": 0.01}, mp(weight=[1.0] * 3))
    compare_exact("mergekit breadcrumbs_ties gamma 0.01 (intended band)", got,
                  mergekit_task_vector_method(base, fts, [1] * 3, [0.9] * 3, "outliers", "sum", False,
                                              gamma=[0.01] * 3))
    lit = mergekit_task_vector_method(base, fts, [1] * 3, [0.9] * 3, "outliers", "sum", False, gamma=[0.01] * 3,
                                      literal_outliers=True)
    small = "model.layers.0.input_layernorm.weight"
    check(np.array_equal(lit[small], base[small]) and not np.array_equal(got[small], base[small]),
          "breadcrumbs gamma 0.01: the literal mergekit slice keeps nothing of the 48-entry tensor; mpimerge does")
    got = run_all_ranks("breadcrumbs_cli", ["--method", "breadcrumbs", "--density", "0.8", "--param", "gamma=0.05",
                                            *cli], work)
    compare_exact("mergekit breadcrumbs (command line)", got,
                  mergekit_task_vector_method(base, fts, [1] * 3, [0.8] * 3, "outliers", None, False,
                                              gamma=[0.05] * 3))
    # mpimerge's kept band is a valid torch outcome.
    for i in range(3):
        models = list(zero_paths)
        models[i] = paths[i]
        got = job(f"bc_isolate{i}", "breadcrumbs", {"weight": 1.0, "density": dens[i], "gamma": gam[i]}, models=models)
        for name in NAMES:
            tau = (fts[i][name] - base[name]).astype(F32)
            n_top, n_bot = outlier_band(tau.size, dens[i], gam[i])
            kept = got[name] != base[name]
            if TENSORS[name][1] != "ties":  # no zero task-vector entries: kept is exact
                check(valid_topk(tau, kept, n_top, tau.size - n_bot),
                      f"breadcrumbs model {i} {name}: kept band is not a valid magnitude_outliers outcome")

    # ---- linear
    for normalize in ("true", "false"):
        got = job(f"linear_{normalize}", "linear", {"normalize": normalize}, mp(weight=LW), base_model=None)
        compare_exact(f"mergekit linear normalize {normalize}", got,
                      mergekit_linear(fts, LW, normalize == "true"))
    # A base_model not among the models: mergekit adds it as one more input, last (plan.py
    # normalize_config), whose weight is the global one (ConfigReader.parameter), and averages it in.
    got = job("linear_base", "linear", {"weight": 0.4}, mp(weight=LW))
    compare_exact("mergekit linear with an unlisted base_model", got, mergekit_linear(fts + [base], LW + [0.4], True))
    got = job("linear_base_global", "linear", {"weight": 0.4, "normalize": "false"})
    compare_exact("mergekit linear with an unlisted base_model, global weight only", got,
                  mergekit_linear(fts + [base], [0.4] * 4, False))
    status, text = mpimerge_fails(["--config", job_yaml(os.path.join(work, "linear_base_none.yaml"), "linear", base_path,
                                                        paths, None, mp(weight=LW))],
                                  os.path.join(work, "linear_base_none.h5"))
    check(status == 2 and "linear: base_model '" + base_path + "' is not among the models, so mergekit averages it in"
          in text, f"linear with an unlisted base and no global weight: exit {status}: {text}")

    # ---- slerp (t, gradient-free; the 'tiny' tensor takes the lerp fallback)
    for t in (0.3, 0.75):
        got = job(f"slerp_{t}", "slerp", {"t": t}, models=paths[:1])
        ref32, ref64, lerped = {}, {}, {}
        for name in NAMES:
            ref32[name], lerped[name] = slerp_ref(t, base[name], fts[0][name], np.float32)
            ref64[name], lerp64 = slerp_ref(t, base[name], fts[0][name], np.float64)
            check(lerp64 == lerped[name], f"slerp {name}: the lerp threshold decision depends on precision")
        check(lerped["model.layers.0.mlp.bias"] and not lerped["model.layers.0.mlp.down_proj.weight"],
              "slerp test data: expected one lerped and one spherical tensor")
        compare_close(f"mergekit slerp t={t} (float32 reference)", got, ref32)
        compare_close(f"mergekit slerp t={t} (float64 formula)", got, ref64)

    # ---- model_stock
    for fw in (False, True):
        got = job(f"model_stock_{fw}", "model_stock", {"filter_wise": str(fw).lower()})
        compare_close(f"mergekit model_stock filter_wise={fw} (float32 reference)", got,
                      model_stock_ref(base, fts, fw, np.float32))
        compare_close(f"mergekit model_stock filter_wise={fw} (float64 formula)", got,
                      model_stock_ref(base, fts, fw, np.float64))

    # ---- random methods: density 1 equals the deterministic counterpart
    for method, cons, norm in (("dare_linear", None, False), ("dare_ties", "sum", False),
                               ("della", "sum", True), ("della_linear", None, False)):
        got = job(f"{method}_d1", method, {"seed": 5, "lambda": 0.8}, mp(weight=W, density=[1.0] * 3))
        compare_exact(f"{method} density 1", got,
                      mergekit_task_vector_method(base, fts, W, [1] * 3, None, cons, norm, 0.8))

    # ---- random methods: kept sets, rescale, and the merge recomputed from the kept sets
    dens = [0.5, 0.3, 0.7]
    eps = 0.2
    for family, methods in (("dare", (("dare_linear", None, False), ("dare_ties", "sum", False))),
                            ("della", (("della_linear", None, False), ("della", "sum", True)))):
        isolate = methods[0][0]
        for rescale in ("true", "l1"):
            extra = {"epsilon": eps} if family == "della" else {}
            sparsified = {name: [] for name in NAMES}
            for i in range(3):
                models = list(zero_paths)
                models[i] = paths[i]
                got = job(f"{isolate}_{rescale}_isolate{i}", isolate,
                          {"weight": 1.0, "seed": 7, "rescale": rescale, **extra},
                          mp(density=dens), models=models)
                kept_total = expect = var = 0.0
                hi_kept = lo_kept = hi_n = lo_n = 0
                for name in NAMES:
                    b = base[name]
                    tau = (fts[i][name] - b).astype(F32)
                    out = got[name]
                    if family == "dare":
                        p = np.full(tau.shape, dens[i])
                    else:  # della_magprune: p = density - eps + 2 eps * normalized rank along dim 1
                        rows = tau.reshape(1, -1) if tau.ndim == 1 else tau
                        m = rows.shape[1]
                        order = np.argsort(np.abs(rows), axis=1, kind="stable")
                        ranks = np.empty_like(order)
                        np.put_along_axis(ranks, order, np.arange(m)[None, :].repeat(rows.shape[0], 0), axis=1)
                        p = ((dens[i] - eps) + (ranks / (m - 1)) * 2 * eps).reshape(tau.shape)
                    ambiguous = tau == 0
                    kept = (out != b) & ~ambiguous
                    dropped = (out == b) & ~ambiguous
                    check(np.all(kept | dropped | ambiguous), f"{isolate} {name}: neither kept nor dropped")
                    if rescale == "true":
                        value = (tau / p.astype(F32)).astype(F32)
                    else:
                        value = l1_rescaled(tau, kept)
                    check(np.array_equal(out[kept], (b + value)[kept].astype(F32)),
                          f"{isolate} rescale {rescale} model {i} {name}: kept entries are not the rescaled tau")
                    check(np.array_equal(out[ambiguous | dropped], b[ambiguous | dropped]),
                          f"{isolate} model {i} {name}: dropped entries are not the base")
                    sparsified[name].append(np.where(kept, value, F32(0)).astype(F32))
                    kept_total += kept.sum()
                    expect += p[~ambiguous].sum()
                    var += (p * (1 - p))[~ambiguous].sum()
                    if family == "della" and TENSORS[name][1] == "smooth":
                        upper = p > dens[i]
                        hi_kept += kept[upper].sum(); hi_n += upper.sum()
                        lo_kept += kept[~upper].sum(); lo_n += (~upper).sum()
                check(abs(kept_total - expect) <= 5 * math.sqrt(var) + 1,
                      f"{isolate} model {i}: kept {kept_total:.0f}, expected {expect:.0f} +- {math.sqrt(var):.1f}")
                if family == "della":
                    check(hi_kept / hi_n > lo_kept / lo_n + eps / 2,
                          f"della model {i}: large magnitudes kept {hi_kept / hi_n:.3f}, small {lo_kept / lo_n:.3f}")
            # the full merges, at every rank count, from the recovered kept sets
            for method, cons, norm in methods:
                got = job(f"{method}_{rescale}_full", method,
                          {"seed": 7, "rescale": rescale, "lambda": 1.1, **extra}, mp(weight=W, density=dens))
                ref = {name: gta(base[name], sparsified[name], W, cons, norm, 1.1) for name in NAMES}
                compare_exact(f"{method} rescale {rescale} (from the recovered kept sets)", got, ref)

    check_spherical_and_selection_methods(work, base, fts, base_path, paths, zero_paths, job)

    print(f"{CHECKS[0]} checks, {len(FAILURES)} failed")
    if FAILURES:
        sys.exit(1)
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()

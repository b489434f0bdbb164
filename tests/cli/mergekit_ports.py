"""numpy ports of mergekit's nuslerp, multislerp, karcher, sce, arcee_fusion and nearswap, written
from arcee-ai/mergekit's merge_methods/ (read, re-implemented; no code copied):
  nuslerp.py       NuSlerpTask.execute, nuslerp
  multislerp.py    multislerp
  karcher.py       karcher_merge_tensors
  sce.py           sce_merge, sce_weight, sce_mask; generalized_task_arithmetic.py get_mask
  arcee_fusion.py  ArceeFusionMergeTask.execute, _compute_importance, DynamicThresholdFusion
  nearswap.py      nearswap_merge
Each takes float32 arrays (one tensor) and computes in `dtype`: float32 as mergekit does on float32
checkpoints (torch's float32 reductions replaced by numpy's, so the last bits of a norm or a sum
may differ from torch's and from mpimerge's exact sums), or float64, mergekit's formula in double.
Used by mergekit_reference.py, which says how each is compared.
"""
import math

import numpy as np

F32 = np.float32


def nearswap(t, base, model):
    """nearswap_merge in float32, in torch's order: t / x is x.reciprocal() * t."""
    a, b = base.astype(F32), model.astype(F32)
    distance = np.maximum(np.abs(a - b), F32(1e-6))
    weight = np.clip((F32(1) / distance) * F32(t), F32(0), F32(1)).astype(F32)
    return (weight * b + (F32(1) - weight) * a).astype(F32)


# ------------------------------------------------------------------ nuslerp

def nuslerp_vectors(t, v0, v1, row_wise, flatten, dtype):
    """nuslerp(t, v0, v1, dim=0 if row_wise else -1, flatten=flatten) in `dtype`."""
    shape = v0.shape
    a, b = v0.astype(dtype), v1.astype(dtype)
    transposed = not flatten and row_wise and a.ndim > 1
    if flatten:
        a, b = a.reshape(-1), b.reshape(-1)
    elif transposed:
        a, b = np.swapaxes(a, 0, -1), np.swapaxes(b, 0, -1)

    def normalize(x):
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), dtype(1e-7))

    cos = np.sum(normalize(a) * normalize(b), axis=-1, keepdims=True)
    theta = np.arccos(np.clip(cos, -1, 1)).astype(dtype)
    s = np.sin(theta)
    colinear = np.abs(s) < 1e-8
    with np.errstate(divide="ignore", invalid="ignore"):
        res = (np.sin(dtype(1 - t) * theta) * a + np.sin(dtype(t) * theta) * b) / s
    lerp = dtype(1 - t) * a + dtype(t) * b
    res = np.where(colinear, lerp, res)
    if transposed:
        res = np.swapaxes(res, 0, -1)
    return res.reshape(shape).astype(dtype), int(np.sum(colinear))


def nuslerp(weights, models, base, row_wise, flatten, dtype):
    """NuSlerpTask.execute: t from the weights; task vectors when there is a base."""
    total = weights[0] + weights[1]
    t = 0.5 if abs(total) < 1e-6 else weights[1] / total
    if base is None:
        res, lerped = nuslerp_vectors(t, models[0], models[1], row_wise, flatten, dtype)
        return res.astype(F32), lerped
    b = base.astype(dtype)
    res, lerped = nuslerp_vectors(t, models[0].astype(dtype) - b, models[1].astype(dtype) - b, row_wise, flatten, dtype)
    return (b + res).astype(F32), lerped


# ------------------------------------------------------------------ multislerp

def multislerp(weights, models, base, normalize_weights, eps, dtype):
    """multislerp, with its tangent step. Returns (result, |tangent sum|)."""
    if len(models) == 1:
        return models[0].astype(F32), 0.0
    x = np.stack([m.astype(dtype) for m in models])
    if base is not None:
        x = (x - base.astype(dtype)).astype(dtype)
    flat = x.reshape(len(models), -1)
    w = np.array(weights, dtype=dtype)
    if normalize_weights:
        total = dtype(0)
        for wi in w:
            total = dtype(total + wi)
        w = (w / total).astype(dtype)
    norms = np.linalg.norm(flat, axis=-1, keepdims=True).astype(dtype)
    unit = (flat / (norms + dtype(eps))).astype(dtype)
    mean = np.zeros(flat.shape[1], dtype=dtype)
    for u, wi in zip(unit, w):
        mean = (mean + u * wi).astype(dtype)
    mean_norm = dtype(np.linalg.norm(mean))
    if mean_norm < eps:
        if len(models) == 2:
            res = (x[0] * w[0] + x[1] * w[1]).astype(dtype)
            return (res + base.astype(dtype) if base is not None else res).astype(F32), 0.0
        raise ValueError("the weighted sum of the unit vectors is zero")
    mean = (mean / mean_norm).astype(dtype)
    dots = np.sum(unit * mean, axis=-1, keepdims=True).astype(dtype)
    tangent = (unit - dots * mean).astype(dtype)
    tangent_sum = np.zeros_like(mean)
    for tv, wi in zip(tangent, w):
        tangent_sum = (tangent_sum + tv * wi).astype(dtype)
    tangent_norm = dtype(np.linalg.norm(tangent_sum) + dtype(eps))
    res = (mean * np.cos(tangent_norm) + tangent_sum * (np.sin(tangent_norm) / tangent_norm)).astype(dtype)
    average_norm = dtype(np.sum(norms[:, 0] * w))
    res = (res * average_norm).reshape(models[0].shape).astype(dtype)
    if base is not None:
        res = (res + base.astype(dtype)).astype(dtype)
    return res.astype(F32), float(np.linalg.norm(tangent_sum))


# ------------------------------------------------------------------ karcher

def karcher(points, max_iter, tol, dtype):
    """karcher_merge_tensors with equal alphas (KarcherTask.execute). Returns (result, steps)."""
    if len(points) == 1:
        return points[0].astype(F32), 0
    alphas = [1.0 / len(points)] * len(points)
    norms, units = [], []
    for p in points:
        x = p.astype(dtype)
        n = float(np.linalg.norm(x))
        norms.append(n)
        units.append(np.zeros_like(x) if n == 0.0 else (x / dtype(n)).astype(dtype))
    valid = [i for i, n in enumerate(norms) if n > tol]
    if not valid:
        return np.zeros_like(points[0], dtype=F32), 0
    alpha_sum = sum(alphas[i] for i in valid)
    a = [alphas[i] / alpha_sum for i in valid]
    vunits = [units[i] for i in valid]
    u = np.zeros_like(vunits[0])
    for ai, ui in zip(a, vunits):
        u = (u + dtype(ai) * ui).astype(dtype)
    norm_u = float(np.linalg.norm(u))
    u = vunits[0].copy() if norm_u < tol else (u / dtype(norm_u)).astype(dtype)
    steps = 0
    for _ in range(max_iter):
        tangent = np.zeros_like(u)
        for ai, ui in zip(a, vunits):
            dot = dtype(np.clip(np.dot(u.ravel(), ui.ravel()), -1.0, 1.0))
            theta = dtype(np.arccos(dot))
            if theta < tol:
                continue
            tangent = (tangent + dtype(ai) * (theta / np.sin(theta)) * (ui - dot * u)).astype(dtype)
        norm_t = dtype(np.linalg.norm(tangent))
        if norm_t < tol:
            break
        steps += 1
        u = (np.cos(norm_t) * u + np.sin(norm_t) * (tangent / norm_t)).astype(dtype)
        u_norm = dtype(np.linalg.norm(u))
        if u_norm > tol:
            u = (u / u_norm).astype(dtype)
    s = 0.0
    for ai, n in zip(alphas, norms):
        s += ai * n
    return (dtype(s) * u).astype(F32), steps


# ------------------------------------------------------------------ sce

def torch_cpu_variance(tau):
    """torch.var(tau, dim=0, unbiased=False) on the CPU: Welford's update in double over dim 0,
    rounded to tau's dtype."""
    mean = np.zeros(tau.shape[1:])
    m2 = np.zeros(tau.shape[1:])
    for k in range(tau.shape[0]):
        x = tau[k].astype(np.float64)
        delta = x - mean
        mean = mean + delta / float(k + 1)
        m2 = m2 + delta * (x - mean)
    return (m2 / float(tau.shape[0])).astype(tau.dtype)


def sce_mask(tau, density):
    """sce_mask; torch.topk's order among equal variances is unspecified: lower index first here."""
    if density <= 0:
        return np.zeros(tau.shape[1:], dtype=bool)
    if density >= 1:
        return np.ones(tau.shape[1:], dtype=bool)
    var = torch_cpu_variance(tau)
    nonzero = int(np.count_nonzero(var))
    k = int(F32(F32(nonzero) * F32(density)))  # an int64 tensor times a Python float: float32
    mask = np.zeros(var.size, dtype=bool)
    if k > 0:
        mask[np.argsort(-np.abs(var).ravel(), kind="stable")[:k]] = True
    return mask.reshape(var.shape)


def sce(base, models, select_topk):
    """sce_merge in float32, models in the job's order (mergekit's is a Python set's). The means of
    squares use exact sums (math.fsum) rounded once, as mpimerge; torch's float32 mean may differ
    in its last bits."""
    b = base.astype(F32)
    tau = np.stack([(m.astype(F32) - b).astype(F32) for m in models])
    if select_topk < 1:
        tau = (tau * sce_mask(tau, select_topk).astype(F32)[None]).astype(F32)
    total = tau.sum(axis=0, dtype=F32)
    majority = np.where(total >= 0, F32(1), F32(-1))
    agree = np.sign(tau) == majority[None]
    n = tau[0].size
    weights = np.array([F32(F32(math.fsum((t * t).astype(F32).astype(np.float64).ravel())) / F32(n)) for t in tau],
                       dtype=F32)
    weight_sum = F32(0)
    for w in weights:
        weight_sum = F32(weight_sum + w)
    if abs(float(weight_sum)) < 1e-6:
        weights = np.full(len(models), F32(1) / F32(len(models)), dtype=F32)
    else:
        weights = (weights / weight_sum).astype(F32)
    merged = np.zeros_like(b)
    divisor = np.zeros_like(b)
    for k in range(len(models)):
        erased = (weights[k] * agree[k].astype(F32)).astype(F32)
        merged = (merged + tau[k] * erased).astype(F32)
        divisor = (divisor + erased).astype(F32)
    return (b + merged / np.maximum(divisor, F32(1e-6))).astype(F32)


# ------------------------------------------------------------------ arcee_fusion

def kl_rows_double(a, b):
    """_compute_importance's divergence per vector along the last dimension, in double: Python's
    math.exp and math.log (the C library's, as mpimerge's) and exactly rounded sums (math.fsum)."""
    rows_a = a.reshape(-1, a.shape[-1]) if a.ndim >= 1 else a.reshape(1, 1)
    rows_b = b.reshape(rows_a.shape)
    out = []
    for ra, rb in zip(rows_a.astype(np.float64), rows_b.astype(np.float64)):
        ma, mb = max(ra), max(rb)
        za = math.fsum(math.exp(x - ma) for x in ra)
        zb = math.fsum(math.exp(x - mb) for x in rb)
        terms = []
        for xa, xb in zip(ra, rb):
            p = math.exp(xb - mb) / zb + 1e-8
            q = math.exp(xa - ma) / za + 1e-8
            terms.append(p * math.log(p / q))
        out.append(math.fsum(terms))
    return np.array(out)


def kl_rows_float32(a, b):
    """The same in float32, as torch computes softmax and the sum on float32 tensors."""
    rows_a = (a.reshape(-1, a.shape[-1]) if a.ndim >= 1 else a.reshape(1, 1)).astype(F32)
    rows_b = b.reshape(rows_a.shape).astype(F32)

    def softmax(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True)).astype(F32)
        return (e / e.sum(axis=-1, keepdims=True, dtype=F32)).astype(F32)

    p = (softmax(rows_b) + F32(1e-8)).astype(F32)
    q = (softmax(rows_a) + F32(1e-8)).astype(F32)
    return np.sum(p * np.log(p / q), axis=-1, dtype=F32)


def arcee_fusion(base, model, kl_rows):
    """ArceeFusionMergeTask.execute with every entry in the quantiles (mergekit samples 10^6 of
    a larger tensor). Returns (result, importance, threshold)."""
    a, b = base.astype(F32), model.astype(F32)
    kl = kl_rows(a, b).astype(F32)
    length = a.shape[-1] if a.ndim >= 1 else 1
    importance = (np.abs(b - a).reshape(-1, length) * kl[:, None]).astype(F32).reshape(a.shape)
    srt = np.sort(importance.ravel())
    n = srt.size
    q1, median, q3 = (srt[int(F32(q) * F32(n - 1))] for q in (0.25, 0.5, 0.75))
    threshold = F32(median + F32(1.5) * F32(q3 - q1))
    mask = (importance >= threshold).astype(F32)
    return (a + (b - a) * mask).astype(F32), importance, threshold

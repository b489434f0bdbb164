#!/usr/bin/env python3
"""Checkpoints written by h5py go in, mpimerge merges them under mpirun, h5py reads the result, and
numpy recomputes TIES literally as the paper's code does (prateeky2806/ties-merging,
src/utils/merge_utils.py: state_dict_to_vector, topk_values_mask, resolve_sign, disjoint_merge).

Usage: h5py_reference.py MPIMERGE RANKS
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

MPIMERGE, RANKS = sys.argv[1], sys.argv[2]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")

# name -> (dtype, shape)
TENSORS = {
    "model.embed_tokens.weight": ("f32", (50, 8)),
    "model.layers.0.self_attn.q_proj.weight": ("bf16", (8, 8)),
    "model.layers.0.mlp.down_proj.weight": ("bf16", (3, 16)),
    "model.norm.weight": ("f16", (8,)),
    "lm_head.weight": ("f32", (50, 8)),
    "encoder/block.0/conv.weight": ("f32", (3, 3)),
    "model.scale": ("f32", ()),
}


def to_bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((u + (0x7FFF + ((u >> 16) & 1))) >> 16).astype(np.uint16)


def bf16_type():
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_fields(15, 7, 8, 0, 7)
    t.set_size(2)
    t.set_ebias(127)
    return t


def quantize(values, dtype):
    """What a tensor of this dtype holds, as float32 (float16/bfloat16 rounded to nearest even)."""
    if dtype == "bf16":
        return (to_bf16_bits(values).astype(np.uint32) << 16).view(np.float32)
    if dtype == "f16":
        return values.astype(np.float16).astype(np.float32)
    return values.astype(np.float32)


def write_h5(path, tensors, chunked=False):
    """chunked: f32 matrices chunked and gzip-compressed (any layout HDF5 reads must be read)."""
    with h5py.File(path, "w") as f:
        for name, (dtype, values) in tensors.items():
            if dtype == "bf16":
                space = h5py.h5s.create_simple(values.shape) if values.shape else h5py.h5s.create(h5py.h5s.SCALAR)
                tid = bf16_type()
                dset = h5py.h5d.create(f.id, name.encode(), tid, space,
                                       lcpl=_intermediate_groups())
                dset.write(h5py.h5s.ALL, h5py.h5s.ALL, to_bf16_bits(values), mtype=tid)
            elif chunked and dtype == "f32" and values.ndim == 2 and values.shape[0] > 7:
                f.create_dataset(name, data=values, chunks=(7, values.shape[1]), compression="gzip")
            else:
                f.create_dataset(name, data=values.astype(np.float16 if dtype == "f16" else np.float32))


def _intermediate_groups():
    lcpl = h5py.h5p.create(h5py.h5p.LINK_CREATE)
    lcpl.set_create_intermediate_group(True)
    return lcpl


def make_models(rng, n_models):
    base, models = {}, [dict() for _ in range(n_models)]
    for name, (dtype, shape) in TENSORS.items():
        b = quantize(rng.normal(0, 0.02, shape).astype(np.float32), dtype)
        base[name] = (dtype, b)
        for m in models:
            # Deltas on a coarse grid with many zeros: ties at the thresholds, exact cancellations.
            delta = rng.integers(-4, 5, shape).astype(np.float32) / 256 * (rng.random(shape) < 0.7)
            m[name] = (dtype, quantize(b + delta, dtype))
    return base, models


def topk_values_mask(M, K):
    """The paper's topk_values_mask: keep |M| >= the k-th smallest |M| per row, k = d - int(d*K)."""
    if K > 1:
        K /= 100
    n, d = M.shape
    k = d - int(d * K)
    if k == 0:
        return M.copy()
    kth = np.partition(np.abs(M), k - 1, axis=1)[:, k - 1:k]
    return M * (np.abs(M) >= kth)


def resolve_sign(T):
    sign = np.sign(T.sum(axis=0, dtype=np.float32)).astype(np.float32)
    majority = np.sign(sign.sum(dtype=np.float64))  # resolve_zero_signs(..., "majority")
    sign[sign == 0] = majority
    return sign


def disjoint_merge_mean(T, sign):
    keep = np.where(sign[None, :] > 0, T > 0, T < 0)
    selected = T * keep
    counts = (selected != 0).sum(axis=0).astype(np.float32)
    total = np.zeros(T.shape[1], np.float32)
    for row in selected:  # in task order, as torch sums along dim 0
        total = total + row
    return total / np.maximum(counts, 1).astype(np.float32)


def ties_reference(base, models, density, scope, lam=1.0):
    names = sorted(TENSORS)  # state_dict_to_vector sorts the keys
    flat_base = np.concatenate([base[n][1].reshape(-1) for n in names])
    tvs = np.stack([np.concatenate([(m[n][1] - base[n][1]).reshape(-1) for n in names]) for m in models])
    if scope == "model":
        trimmed = topk_values_mask(tvs, density)
    else:
        trimmed = np.zeros_like(tvs)
        start = 0
        for n in names:
            size = base[n][1].size
            trimmed[:, start:start + size] = topk_values_mask(tvs[:, start:start + size], density)
            start += size
    sign = resolve_sign(trimmed)
    merged = flat_base + np.float32(lam) * disjoint_merge_mean(trimmed, sign)
    out, start = {}, 0
    for n in names:
        size = base[n][1].size
        out[n] = merged[start:start + size].reshape(base[n][1].shape)
        start += size
    return out


def main():
    rng = np.random.default_rng(20231)
    base, models = make_models(rng, 3)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, "base.h5")] + [os.path.join(tmp, f"ft{i}.h5") for i in range(3)]
        write_h5(paths[0], base)
        for i, (p, m) in enumerate(zip(paths[1:], models)):
            write_h5(p, m, chunked=i == 1)
        for density, scope in ((0.2, "model"), (30, "tensor"), (1.0, "model")):
            out = os.path.join(tmp, f"merged-{scope}-{density}.h5")
            cmd = ["timeout", "120", "mpirun", "-n", RANKS, "--oversubscribe", MPIMERGE, "merge", "--quiet",
                   "--base", paths[0], "--model", paths[1], "--model", paths[2], "--model", paths[3],
                   "--density", str(density), "--trim-scope", scope, "--output", out]
            subprocess.run(cmd, check=True, env=ENV)
            want = ties_reference(base, models, density, scope)
            with h5py.File(out, "r") as f:
                got_names = set()
                f.visititems(lambda name, obj: got_names.add(name) if isinstance(obj, h5py.Dataset) else None)
                assert got_names == set(TENSORS), got_names
                for name, (dtype, shape) in TENSORS.items():
                    got = f[name][()]
                    assert got.shape == shape, (name, got.shape)
                    expected = quantize(want[name], dtype)
                    if not np.array_equal(np.asarray(got, np.float32), expected):
                        bad = np.argwhere(np.asarray(got, np.float32) != expected)
                        raise SystemExit(f"{scope} {density}: {name} differs at {bad[:5].tolist()}: "
                                         f"{np.asarray(got).reshape(-1)[:5]} vs {expected.reshape(-1)[:5]}")
            print(f"h5py reference: {scope} scope, density {density}: identical")


if __name__ == "__main__":
    main()

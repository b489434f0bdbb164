#!/usr/bin/env python3
"""Checkpoints of many small tensors of mixed sizes (a mixture-of-experts layout, as
`mpimerge generate --tensors`), merged with TIES at 1 and 3 ranks, in HDF5 and as sharded Hugging
Face safetensors directories: the outputs are the same bytes at both rank counts, and their values
equal an independent numpy port of the TIES paper's code (as h5py_reference.py), bit for bit.

The two vocab x 128 matrices (1.28 MB each) are above the size under which tensors are read and
written in batches (kBatchedTensorBytes, 1 MiB), the ~3000 others below it, so both paths are
covered; a small memory budget makes many groups, so batches start and end at group boundaries.
Correctness only: the speed is bench/many_tensors.py's business.

Usage: many_tensors.py MPIMERGE
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np

MPIMERGE = sys.argv[1]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
TENSORS = 3000
MODELS = 3


def run(ranks, *args):
    cmd = ["timeout", "300", "mpirun", "-n", str(ranks), "--oversubscribe", MPIMERGE] + list(args)
    subprocess.run(cmd, check=True, env=ENV)


def bf16_to_f32(raw):
    return (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def to_bf16_f32(x):
    """float32 -> the float32 value of its bfloat16 rounding (nearest even)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return (((u + (0x7FFF + ((u >> 16) & 1))) >> 16) << 16).astype(np.uint32).view(np.float32)


def read_safetensors_dir(path):
    """name -> float32 array, through the index and every shard (checking that they agree)."""
    with open(os.path.join(path, "model.safetensors.index.json")) as f:
        index = json.load(f)
    out = {}
    for shard in sorted(set(index["weight_map"].values())):
        with open(os.path.join(path, shard), "rb") as f:
            blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + n])
        header.pop("__metadata__", None)
        for name, entry in header.items():
            assert index["weight_map"][name] == shard, name
            begin, end = entry["data_offsets"]
            assert entry["dtype"] == "BF16", name
            out[name] = bf16_to_f32(blob[8 + n + begin:8 + n + end]).reshape(entry["shape"])
    assert set(out) == set(index["weight_map"]), "index and shards name different tensors"
    return out


def read_h5(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, np.asarray(obj[()], np.float32))
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def topk_values_mask(M, K):
    """The paper's topk_values_mask: keep |M| >= the k-th smallest |M| per row, k = d - int(d*K)."""
    n, d = M.shape
    k = d - int(d * K)
    if k == 0:
        return M.copy()
    kth = np.partition(np.abs(M), k - 1, axis=1)[:, k - 1:k]
    return M * (np.abs(M) >= kth)


def ties_reference(base, models, density, scope):
    """The paper's TIES (ties_merging.py) on the flattened checkpoint, lambda 1."""
    names = sorted(base)
    sizes = [base[n].size for n in names]
    flat_base = np.concatenate([base[n].reshape(-1) for n in names])
    tvs = np.stack([np.concatenate([(m[n] - base[n]).reshape(-1) for n in names]) for m in models])
    if scope == "model":
        trimmed = topk_values_mask(tvs, density)
    else:
        trimmed = np.zeros_like(tvs)
        start = 0
        for size in sizes:
            trimmed[:, start:start + size] = topk_values_mask(tvs[:, start:start + size], density)
            start += size
    sign = np.sign(trimmed.sum(axis=0, dtype=np.float32)).astype(np.float32)
    sign[sign == 0] = np.sign(sign.sum(dtype=np.float64))
    keep = np.where(sign[None, :] > 0, trimmed > 0, trimmed < 0)
    selected = trimmed * keep
    counts = (selected != 0).sum(axis=0).astype(np.float32)
    total = np.zeros(tvs.shape[1], np.float32)
    for row in selected:
        total = total + row
    merged = to_bf16_f32(flat_base + total / np.maximum(counts, 1).astype(np.float32))
    out, start = {}, 0
    for n, size in zip(names, sizes):
        out[n] = merged[start:start + size].reshape(base[n].shape)
        start += size
    return out


def same_bytes(a, b):
    """Files, or directories' files, byte for byte."""
    if os.path.isdir(a):
        names = sorted(os.listdir(a))
        assert names == sorted(os.listdir(b)), (names, sorted(os.listdir(b)))
        return all(same_bytes(os.path.join(a, n), os.path.join(b, n)) for n in names)
    with open(a, "rb") as f, open(b, "rb") as g:
        return f.read() == g.read()


def main():
    with tempfile.TemporaryDirectory() as work:
        check(work)


def check(work):
    common = ["--tensors", str(TENSORS), "--params", "6M", "--vocab", "5000", "--models", str(MODELS), "--quiet"]
    run(3, "generate", "--output-dir", os.path.join(work, "h5"), *common)
    run(3, "generate", "--output-dir", os.path.join(work, "st"), "--format", "safetensors", "--shard-size", "4MB", *common)
    names = ["base"] + [f"ft-{m}" for m in range(1, MODELS + 1)]
    inputs = {"hdf5": [os.path.join(work, "h5", n + ".h5") for n in names],
              "safetensors": [os.path.join(work, "st", n) for n in names]}
    shards = [f for f in os.listdir(inputs["safetensors"][0]) if f.endswith(".safetensors")]
    assert len(shards) > 1, f"expected a sharded input, got {shards}"

    base = read_h5(inputs["hdf5"][0])
    fts = [read_h5(p) for p in inputs["hdf5"][1:]]
    assert len(base) == TENSORS, len(base)
    sizes = sorted({v.nbytes // 2 for v in base.values()})
    assert sizes[-1] * 2 > (1 << 20) > sizes[-2] * 2, f"expected both batched and collective tensors: {sizes}"
    # The safetensors inputs hold the same values as the HDF5 ones (the generator is format-blind).
    st_base = read_safetensors_dir(inputs["safetensors"][0])
    assert all(np.array_equal(st_base[n], base[n]) for n in base), "generated HDF5 and safetensors differ"

    variants = [("model", 0.2, []), ("tensor", 0.3, ["--memory-budget", "8M"])]
    for scope, density, extra in variants:
        want = ties_reference(base, fts, density, scope)
        for fmt, paths in inputs.items():
            outputs = []
            for ranks in (1, 3):
                # The same name at both rank counts: a model card's title is the output's name.
                os.makedirs(os.path.join(work, f"ranks-{ranks}"), exist_ok=True)
                out = os.path.join(work, f"ranks-{ranks}", f"merged-{fmt}-{scope}" + (".h5" if fmt == "hdf5" else "/"))
                args = ["merge", "--quiet", "--method", "ties", "--trim-scope", scope, "--density", str(density),
                        "--base", paths[0], "--output", out, "--shard-size", "4MB"] + extra
                for p in paths[1:]:
                    args += ["--model", p]
                run(ranks, *args)
                outputs.append(out)
            assert same_bytes(*outputs), f"{fmt}, {scope} scope: 1 and 3 ranks wrote different bytes"
            got = read_h5(outputs[0]) if fmt == "hdf5" else read_safetensors_dir(outputs[0])
            assert set(got) == set(want), f"{fmt}: tensor names differ"
            bad = [n for n in sorted(want) if not np.array_equal(got[n], want[n])]
            assert not bad, f"{fmt}, {scope} scope: {len(bad)} tensors differ from numpy's TIES, e.g. {bad[:3]}"
            print(f"many tensors: {fmt}, {scope} scope, density {density}: {len(got)} tensors equal numpy's TIES, "
                  f"the same bytes at 1 and 3 ranks")


if __name__ == "__main__":
    main()

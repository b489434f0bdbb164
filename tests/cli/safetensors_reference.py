#!/usr/bin/env python3
"""An independent check of mpimerge's Hugging Face output, with nothing but json, struct and numpy
(Debian 12 packages neither safetensors nor transformers, and its torch 1.13 reads no
safetensors): mpimerge merges the Llama fixture's directories under mpirun into a sharded
directory; this script reads every input and output file itself, checks the output as
transformers' loader would see it (index, shards, headers, 8-aligned data, __metadata__, config),
and recomputes task arithmetic in float32 with numpy, rounded to bfloat16, bit for bit.

Usage: safetensors_reference.py MPIMERGE RANKS FIXTURES
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

MPIMERGE, RANKS, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
LLAMA = os.path.join(FIXTURES, "llama-tiny-bf16")
LAMBDA = 0.5
SIZES = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8, "I64": 8, "U8": 1}


def read_safetensors(path):
    """name -> (dtype, shape, raw bytes), checking the layout the reference reader demands."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n <= 100_000_000 and 8 + n <= len(blob), path
    assert (8 + n) % 8 == 0, f"{path}: data does not start 8-aligned"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", None)
    end = 0
    out = {}
    for name, entry in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        begin, stop = entry["data_offsets"]
        assert begin == end, f"{path}: {name} does not follow the previous tensor"
        count = int(np.prod(entry["shape"], dtype=np.int64))
        assert stop - begin == count * SIZES[entry["dtype"]], f"{path}: {name} size"
        out[name] = (entry["dtype"], entry["shape"], data[begin:stop])
        end = stop
    assert end == len(data), f"{path}: bytes after the last tensor"
    return out, metadata


def read_directory(path):
    index_path = os.path.join(path, "model.safetensors.index.json")
    if not os.path.exists(index_path):
        return read_safetensors(os.path.join(path, "model.safetensors"))[0], None
    with open(index_path) as f:
        index = json.load(f)
    tensors = {}
    for shard in sorted(set(index["weight_map"].values())):
        held, metadata = read_safetensors(os.path.join(path, shard))
        assert metadata == {"format": "pt"}, f"{shard}: __metadata__ {metadata}"
        for name in held:
            assert index["weight_map"][name] == shard, f"{name} is in {shard}, the index says otherwise"
        tensors.update(held)
    assert set(tensors) == set(index["weight_map"]), "index and shards name different tensors"
    total = sum(len(raw) for _, _, raw in tensors.values())
    assert index["metadata"]["total_size"] == total, (index["metadata"], total)
    return tensors, index


def bf16_to_f32(raw):
    return (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((u + (0x7FFF + ((u >> 16) & 1))) >> 16).astype(np.uint16).tobytes()


def main():
    work = tempfile.mkdtemp()
    out = os.path.join(work, "merged")
    models = ["ft-math", "ft-code", "ft-chat"]
    cmd = ["mpirun", "-n", RANKS, "--oversubscribe", MPIMERGE, "merge", "--method", "task_arithmetic",
           "--lambda", str(LAMBDA), "--base", os.path.join(LLAMA, "base"), "--shard-size", "30KB",
           "--output", out + "/", "--quiet"]
    for m in models:
        cmd += ["--model", os.path.join(LLAMA, m)]
    subprocess.run(cmd, check=True, env=ENV, timeout=300)

    merged, index = read_directory(out)
    assert index is not None and len(set(index["weight_map"].values())) == 2, "expected two 30KB shards"
    base, _ = read_directory(os.path.join(LLAMA, "base"))
    fts = [read_directory(os.path.join(LLAMA, m))[0] for m in models]
    assert set(merged) == set(base)
    for name, (dtype, shape, raw) in base.items():
        got_dtype, got_shape, got_raw = merged[name]
        assert (got_dtype, got_shape) == (dtype, shape), name
        b = bf16_to_f32(raw)
        total = np.zeros_like(b)
        for ft in fts:
            total += bf16_to_f32(ft[name][2]) - b
        expected = f32_to_bf16(b + np.float32(LAMBDA) * total)
        assert got_raw == expected, f"{name}: merged bytes differ from numpy's task arithmetic"

    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(LLAMA, "base", "config.json")) as f:
        assert config == json.load(f), "config.json changed without --out-dtype"
    for name in ("generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        with open(os.path.join(out, name), "rb") as a, open(os.path.join(LLAMA, "base", name), "rb") as b:
            assert a.read() == b.read(), name
    print(f"safetensors reference: {len(merged)} tensors equal numpy's task arithmetic at {RANKS} ranks")


if __name__ == "__main__":
    main()

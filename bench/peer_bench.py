#!/usr/bin/env python3
"""mpimerge against the TIES paper's own code on the same inputs: wall time and peak memory.

The peer is the merge pipeline of prateeky2806/ties-merging (src/utils/merge_utils.py) as its
scripts run it, reproduced here in torch: the checkpoints flattened in sorted-key order
(state_dict_to_vector), task vectors = fine-tunes - base, merge_methods("topk", K=20,
resolve "mass", "dis-mean"): topk_values_mask by kthvalue, sign of the sum with the majority sign
for zeros, the disjoint mean; then base + lambda (1) * merged and back to a state dict. The peer
reads the HDF5 inputs with h5py and writes its output with h5py, so both sides read and write the
same files. It runs in a process of its own (its peak RSS from wait4); mpimerge runs
`merge --method ties --density 0.2` with default options at the given rank count (its peak RSS per
rank from its report). Both outputs are compared with `mpimerge diff` (tolerance 0): the paper's
arithmetic in float32 is what mpimerge reproduces.

Example (the table in docs/performance.md, "Against the paper's code"):
  /usr/bin/python3 bench/peer_bench.py --binary build/src/mpimerge --params 33.5M --ranks 2 --repeat 2
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


def peer_merge(base_path, model_paths, output, density_percent):
    """The paper's pipeline (merge_utils.py), in this process."""
    from collections import OrderedDict

    import h5py
    import numpy as np
    import torch

    def load(path):
        state = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: state.__setitem__(name, torch.from_numpy(np.asarray(obj[()])))
                         if isinstance(obj, h5py.Dataset) else None)
        return state

    def state_dict_to_vector(state):
        ordered = OrderedDict(sorted(state.items()))
        return torch.nn.utils.parameters_to_vector([v.reshape(-1) for v in ordered.values()])

    def topk_values_mask(m, k_percent):
        n, d = m.shape
        k = d - int(d * (k_percent / 100))
        kth, _ = m.abs().kthvalue(k, dim=1, keepdim=True)
        return m * (m.abs() >= kth)

    def resolve_sign(t):
        sign = torch.sign(t.sum(dim=0))
        sign[sign == 0] = torch.sign(sign.sum())
        return sign

    def disjoint_mean(t, sign):
        selected = t * torch.where(sign.unsqueeze(0) > 0, t > 0, t < 0)
        counts = (selected != 0).sum(dim=0).float()
        return torch.sum(selected, dim=0) / torch.clamp(counts, min=1)

    base = load(base_path)
    flat_ft = torch.vstack([state_dict_to_vector(load(p)) for p in model_paths])
    flat_base = state_dict_to_vector(base)
    task_vectors = flat_ft - flat_base
    trimmed = topk_values_mask(task_vectors.clone(), density_percent)
    merged = flat_base + 1.0 * disjoint_mean(trimmed, resolve_sign(trimmed))
    reference = OrderedDict(sorted((k, v.clone()) for k, v in base.items()))
    torch.nn.utils.vector_to_parameters(merged, reference.values())
    with h5py.File(output, "w") as f:
        for name, value in reference.items():
            f.create_dataset(name, data=value.numpy())


def timed(cmd):
    """Wall seconds and the child's own peak RSS in bytes (wait4)."""
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, env=ENV)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(cmd)}")
    return wall, usage.ru_maxrss * 1024


def warm(paths):
    """The inputs in the page cache, and nothing of the previous run's left to write back."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass
    os.sync()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "src", "mpimerge"))
    ap.add_argument("--workdir", default="/tmp/mpimerge-peer")
    ap.add_argument("--params", default="33.5M")
    ap.add_argument("--models", type=int, default=3)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="interleaved tries of each; the best is reported")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--peer-run", nargs="+", help=argparse.SUPPRESS)  # OUTPUT BASE MODEL...: the peer itself
    args = ap.parse_args()
    if args.peer_run:
        peer_merge(args.peer_run[1], args.peer_run[2:], args.peer_run[0], 20)
        return

    inputs_dir = os.path.join(args.workdir, f"f32-{args.params}-{args.models}")
    names = ["base"] + [f"ft-{m}" for m in range(1, args.models + 1)]
    inputs = [os.path.join(inputs_dir, n + ".h5") for n in names]
    if not all(os.path.exists(p) for p in inputs):
        subprocess.run(["mpirun", "-n", "2", args.binary, "generate", "--quiet", "--output-dir", inputs_dir,
                        "--params", args.params, "--models", str(args.models), "--dtype", "float32"],
                       check=True, env=ENV)
    ours_out, peer_out = os.path.join(args.workdir, "mpimerge.h5"), os.path.join(args.workdir, "peer.h5")
    report = os.path.join(args.workdir, "report.json")
    ours_cmd = ["mpirun", "-n", str(args.ranks), "--oversubscribe", args.binary, "merge", "--quiet", "--overwrite",
                "--method", "ties", "--density", "0.2", "--base", inputs[0]]
    for m in inputs[1:]:
        ours_cmd += ["--model", m]
    ours_cmd += ["--output", ours_out, "--report", report]
    peer_cmd = [sys.executable, os.path.abspath(__file__), "--peer-run", peer_out] + inputs

    tries = []
    for attempt in range(args.repeat):
        warm(inputs)
        wall, _ = timed(ours_cmd)
        with open(report) as f:
            rss = max(json.load(f)["memory"]["peak_rss_per_rank"])
        tries.append({"who": "mpimerge", "try": attempt, "wall_s": wall, "peak_rss_per_rank": rss})
        warm(inputs)
        wall, rss = timed(peer_cmd)
        tries.append({"who": "peer", "try": attempt, "wall_s": wall, "peak_rss": rss})
    same = subprocess.run(["mpirun", "-n", "1", args.binary, "diff", "--summary", "--a", ours_out, "--b", peer_out],
                          env=ENV, capture_output=True, text=True)
    ours_tries = [t for t in tries if t["who"] == "mpimerge"]
    peer_tries = [t for t in tries if t["who"] == "peer"]
    ours = min(ours_tries, key=lambda t: t["wall_s"])
    peer = min(peer_tries, key=lambda t: t["wall_s"])
    ours_rss = min(t["peak_rss_per_rank"] for t in ours_tries)
    peer_rss = min(t["peak_rss"] for t in peer_tries)
    size = sum(os.path.getsize(p) for p in inputs) / 1e9
    print(f"inputs: {args.models} x {args.params} float32 + base ({size:.2f} GB of HDF5), density 0.2, best of {args.repeat}")
    print("| merge | wall s | peak RSS | speed-up | less memory |")
    print("|---|---|---|---|---|")
    print(f"| mpimerge, {args.ranks} ranks, default options | {ours['wall_s']:.2f} | {ours_rss / 1e9:.3f} GB per rank | "
          f"{peer['wall_s'] / ours['wall_s']:.1f}x | {peer_rss / ours_rss:.1f}x |")
    print(f"| the paper's code (torch {__import__('torch').__version__}, 1 process) | {peer['wall_s']:.2f} | "
          f"{peer_rss / 1e9:.3f} GB | 1x | 1x |")
    print(f"outputs (mpimerge diff, tolerance 0): {same.stdout.strip().splitlines()[-1] if same.stdout.strip() else same.stderr.strip()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"params": args.params, "models": args.models, "ranks": args.ranks, "tries": tries,
                       "diff": same.stdout.strip(), "diff_exit": same.returncode}, f, indent=1)
    if same.returncode != 0:
        sys.exit("the outputs differ")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""mpimerge analyze on checkpoints written by h5py, at 1, 2 and 3 ranks: the CSV is the same bytes at
every rank count, and the JSON equals numpy's statistics computed from the whole task vectors
(quantiles: numpy.quantile(method="inverted_cdf"); trim: the TIES paper's topk_values_mask,
prateeky2806/ties-merging src/utils/merge_utils.py, over the whole model). Usage errors exit 2.

Usage: analyze_reference.py MPIMERGE
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

MPIMERGE = sys.argv[1]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
SHAPES = {"fc1.weight": (40, 16), "fc1.bias": (40,), "fc2.weight": (7, 40), "step": ()}
DENSITIES = [0.05, 0.2, 1.0]
TOPS = [0.01, 0.1, 0.5]
QUANTILES = [0.5, 0.9, 0.99]


def run(ranks, *args):
    return subprocess.run(["timeout", "120", "mpirun", "-n", str(ranks), "--oversubscribe", MPIMERGE, *args],
                          env=ENV, capture_output=True, text=True)


def topk_mask(flat, density):
    """topk_values_mask of the paper's code: |x| >= the k-th smallest, k = d - int(d * K)."""
    d = flat.size
    k = d - int(d * density)
    if k == 0:
        return np.ones(d, dtype=bool)
    kth = np.partition(np.abs(flat), k - 1)[k - 1]
    return np.abs(flat) >= kth


def main():
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as work:
        base = {n: rng.normal(size=s).astype(np.float32) for n, s in SHAPES.items() if n != "step"}
        shared = {n: rng.standard_t(3, size=v.shape).astype(np.float32) * 0.01 for n, v in base.items()}
        models = []
        for m in range(3):
            models.append({n: (v + 0.5 * shared[n] + rng.standard_t(3, size=v.shape).astype(np.float32) * 0.01
                               * (m + 1)).astype(np.float32) for n, v in base.items()})
            models[-1]["fc1.bias"][:3] = base["fc1.bias"][:3]  # exact zeros in tau
        paths = []
        for i, tensors in enumerate([base] + models):
            paths.append(os.path.join(work, f"m{i}.h5"))
            with h5py.File(paths[-1], "w") as f:
                for n, v in tensors.items():
                    f.create_dataset(n, data=v)
                f.create_dataset("step", data=np.int64(7))  # not float: copied, not analysed

        inputs = ["analyze", "--base", paths[0]] + sum((["--model", p] for p in paths[1:]), [])
        args = inputs + [
            "--densities", ",".join(map(str, DENSITIES)), "--mass-tops", ",".join(map(str, TOPS)),
            "--quantiles", ",".join(map(str, QUANTILES))]
        csvs = []
        for ranks in (1, 2, 3):
            prefix = os.path.join(work, f"np{ranks}")
            r = run(ranks, *args, "--output-prefix", prefix)
            assert r.returncode == 0, r.stderr
            assert "sign conflicts among kept entries" in r.stdout, r.stdout
            csvs.append(open(prefix + ".csv").read())
        assert csvs[0] == csvs[1] == csvs[2], "the CSV differs between rank counts"
        got = json.load(open(os.path.join(work, "np3.json")))
        assert got["ranks"] == 3

        names = sorted(base)  # compare per tensor by name; the flat order does not matter
        tau = [{n: (model[n] - base[n]).ravel() for n in names} for model in models]
        flat = [np.concatenate([t[n] for n in names]) for t in tau]
        assert got["parameters"] == flat[0].size
        for m, task in enumerate(got["tasks"]):
            a = np.abs(flat[m])
            want_q = np.quantile(a, QUANTILES, method="inverted_cdf")
            assert task["quantiles"] == [float(x) for x in want_q], (task["quantiles"], want_q)
            assert task["max"] == float(a.max())
            sq = a.astype(np.float64) ** 2
            assert abs(task["sum_of_squares"] - sq.sum()) <= 1e-12 * sq.sum()
            for j, top in enumerate(TOPS):
                keep = topk_mask(flat[m], top)
                assert abs(task["mass_fraction"][j] - sq[keep].sum() / sq.sum()) < 1e-12
                assert task["mass_kept"][j] == keep.sum() / a.size
            for j, density in enumerate(DENSITIES):
                keep = topk_mask(flat[m], density)
                assert task["kept_fraction"][j] == keep.sum() / a.size
                assert task["thresholds"][j] == (float(a[keep].min()) if density < 1 else 0.0)

        def conflicts(names_in, d):
            signs = []
            for m in range(3):
                keep = topk_mask(flat[m], DENSITIES[d])
                s = np.sign(flat[m]) * keep
                offsets = np.cumsum([0] + [tau[m][n].size for n in names])
                signs.append(np.concatenate([s[offsets[i]:offsets[i + 1]] for i, n in enumerate(names) if n in names_in]))
            signs = np.array(signs)
            kept = (signs != 0).sum(axis=0)
            conflicting = ((signs > 0).any(axis=0) & (signs < 0).any(axis=0)).sum()
            return int((kept >= 2).sum()), int(conflicting), int(kept.sum())

        for d in range(len(DENSITIES)):
            multi, conflicting, kept = conflicts(names, d)
            c = got["sign_conflicts"][d]
            assert (c["multi_kept"], c["conflicting"], c["kept_entries"]) == (multi, conflicting, kept), (c, multi, conflicting)
            assert c["conflicting"] > 0 or DENSITIES[d] < 0.1
            for t in got["tensors"]:
                multi, conflicting, kept = conflicts([t["name"]], d)
                c = t["sign_conflicts"][d]
                assert (c["multi_kept"], c["conflicting"], c["kept_entries"]) == (multi, conflicting, kept), t["name"]
        assert sorted(t["name"] for t in got["tensors"]) == names

        # Usage errors: one line, exit 2.
        for bad, message in ((["--densities", "0.1,x"], "is not a number"), (["--densities", "0"], "density"),
                             (["--quantiles", "1.5"], "not in (0, 1]")):
            r = run(2, *inputs, *bad, "--output-prefix", os.path.join(work, "bad"))
            assert r.returncode == 2 and message in r.stderr, (bad, r.returncode, r.stderr)
        r = run(2, *args, "--output-prefix", os.path.join(work, "np1"))
        assert r.returncode == 2 and "--overwrite" in r.stderr, r.stderr
        r = run(1, "analyze", "--base", paths[0], "--model", paths[1])
        assert r.returncode == 2 and "no output given" in r.stderr, r.stderr
    print("analyze: numpy reference and rank-count independence OK")


main()

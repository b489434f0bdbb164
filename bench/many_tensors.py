#!/usr/bin/env python3
"""Merges of checkpoints with many small tensors: how the cost grows with the number of tensors.

For each tensor count, writes (or reuses) a mixture-of-experts base and fine-tunes with
`mpimerge generate --tensors N` (two vocab x 128 matrices, then layers of norms, 128 x 128
attention matrices, a router and 32 experts of three matrices each: mixed sizes, a few large and
many small), in HDF5 (one file per model) and as sharded Hugging Face safetensors directories
(several shards and model.safetensors.index.json). The bytes per tensor stay fixed
(--bytes-per-tensor), so 100k tensors are a 1 GB checkpoint at the default 10K.

Then runs `mpimerge merge --method ties` with default options at each rank count, timed from the
outside (mpirun included), and prints one markdown table: tensors, format, ranks, wall seconds,
the phases of the merge's report (seconds on the slowest rank), peak RSS per rank, and the wall
time per 1000 tensors (flat when the cost grows linearly).

Example (the table in docs/performance.md, "Many tensors"):
  python3 bench/many_tensors.py --counts 10000 30000 100000 --ranks 1 3 --json bench/results/many_tensors.json
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
FORMATS = {"hdf5": [], "safetensors": ["--format", "safetensors"]}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, env=ENV, **kw)


def parse_size(text):
    units = {"K": 1e3, "M": 1e6, "G": 1e9}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def generate(binary, directory, fmt, count, params, models, shard, ranks):
    marker = os.path.join(directory, "params.txt")
    want = f"{fmt} {count} {params} {models}" + (f" {shard}" if fmt == "safetensors" else "")
    if os.path.exists(marker) and open(marker).read().strip() == want:
        return
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    run(["mpirun", "-n", str(ranks), binary, "generate", "--quiet", "--output-dir", directory,
         "--tensors", str(count), "--params", str(params), "--models", str(models),
         "--shard-size", shard] + FORMATS[fmt])
    with open(marker, "w") as f:
        f.write(want + "\n")


def inputs_of(directory, fmt, models):
    names = ["base"] + [f"ft-{m}" for m in range(1, models + 1)]
    return [os.path.join(directory, n + (".h5" if fmt == "hdf5" else "")) for n in names]


def input_bytes(paths):
    total = 0
    for p in paths:
        if os.path.isdir(p):
            total += sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p))
        else:
            total += os.path.getsize(p)
    return total


def warm(paths):
    for p in paths:
        files = [os.path.join(p, f) for f in sorted(os.listdir(p))] if os.path.isdir(p) else [p]
        for name in files:
            with open(name, "rb") as f:
                while f.read(1 << 24):
                    pass


def merge(binary, ranks, inputs, output, extra):
    report = output.rstrip("/") + ".report.json"
    cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", binary, "merge", "--quiet", "--overwrite",
           "--method", "ties", "--base", inputs[0]]
    for m in inputs[1:]:
        cmd += ["--model", m]
    cmd += ["--output", output, "--report", report] + extra
    warm(inputs)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    run(cmd)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of mpirun and every rank (user + system): on a shared, loaded machine the wall
    # time measures the other users as much as the merge.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(report) as f:
        r = json.load(f)
    os.remove(report)
    return wall, cpu, r


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "src", "mpimerge"))
    ap.add_argument("--generator", help="the mpimerge that generates the inputs (default: --binary), "
                    "e.g. to time an older build that lacks generate --tensors on the same files")
    ap.add_argument("--workdir", default="/tmp/mpimerge-many-tensors")
    ap.add_argument("--counts", type=int, nargs="+", default=[10000, 30000, 100000])
    ap.add_argument("--formats", nargs="+", default=["hdf5", "safetensors"], choices=list(FORMATS))
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--models", type=int, default=3)
    ap.add_argument("--bytes-per-tensor", default="10K", help="bf16 bytes per tensor on average (10K: 100k tensors = 1 GB)")
    ap.add_argument("--shard-size", default="64M", help="safetensors inputs: largest shard")
    ap.add_argument("--extra", default="", help="more merge arguments, e.g. '--output-io direct'")
    ap.add_argument("--json", help="write every number here")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    generator = os.path.abspath(args.generator or args.binary)
    per_tensor = parse_size(args.bytes_per_tensor)
    rows = []
    print(f"load average at start: {load_average()} ({os.cpu_count()} CPUs)", flush=True)
    print("| tensors | format | input | ranks | wall s | CPU s (all ranks) | wall s per 1000 tensors | phases (s, slowest rank) | "
          "outside the phases s | peak RSS / rank | load after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for count in args.counts:
        params = count * per_tensor // 2  # bf16
        for fmt in args.formats:
            directory = os.path.join(args.workdir, f"{fmt}-{count}")
            generate(generator, directory, fmt, count, params, args.models, args.shard_size, max(args.ranks))
            inputs = inputs_of(directory, fmt, args.models)
            size = input_bytes(inputs)
            for ranks in args.ranks:
                output = os.path.join(args.workdir, "merged" + (".h5" if fmt == "hdf5" else ""))
                wall, cpu, r = merge(binary, ranks, inputs, output, args.extra.split())
                phases = {k: v["seconds"] if isinstance(v, dict) else v for k, v in r.get("phases", {}).items()}
                rss = r["memory"]["peak_rss_per_rank"]
                row = {"tensors": count, "format": fmt, "input_bytes": size, "ranks": ranks, "wall_s": wall, "cpu_s": cpu,
                       "report_seconds": r.get("seconds"),
                       "phases": phases, "peak_rss_per_rank": rss, "load": load_average(), "extra": args.extra}
                rows.append(row)
                phase_text = ", ".join(f"{k} {v:.2f}" for k, v in phases.items() if isinstance(v, (int, float)) and v >= 0.005)
                # The merge's own time outside read/select/merge/write: opening the inputs (each
                # one's metadata read on rank 0), creating the output's structure, checksums, commit.
                outside = r["seconds"] - sum(v for v in phases.values() if isinstance(v, (int, float)))
                row["outside_phases_s"] = outside
                print(f"| {count} | {fmt} | {size / 1e9:.2f} GB | {ranks} | {wall:.2f} | {cpu:.2f} | {wall / count * 1000:.3f} | "
                      f"{phase_text} | {outside:.2f} | {max(rss) / 1e9:.2f} GB | {row['load']} |", flush=True)
                if os.path.isdir(output):
                    shutil.rmtree(output)
                elif os.path.exists(output):
                    os.remove(output)
    # Growth: wall time at the largest count over the smallest, against the ratio of the counts.
    for fmt in args.formats:
        for ranks in args.ranks:
            mine = sorted((r["tensors"], r["wall_s"], r["cpu_s"]) for r in rows if r["format"] == fmt and r["ranks"] == ranks)
            if len(mine) >= 2:
                (n0, w0, c0), (n1, w1, c1) = mine[0], mine[-1]
                print(f"{fmt}, {ranks} rank(s): {n1 / n0:.1f}x the tensors took {w1 / w0:.2f}x the wall time, "
                      f"{c1 / c0:.2f}x the CPU time")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "counts": args.counts, "models": args.models,
                       "bytes_per_tensor": per_tensor}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())

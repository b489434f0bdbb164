#!/usr/bin/env python3
"""The task-singular methods (tsv_m, iso_c, iso_cts) on a Llama-shaped set, timed.

Generates (or reuses) a base and fine-tunes with `mpimerge generate` (Llama shapes, bf16), runs
each method at each rank count from the outside (wall time, mpirun included), and reads each
merge's JSON report: its phases, peak memory per rank, and the method's findings, among them the
seconds spent on the matrices of each shape (summed over ranks) and how many decompositions went
through the Gram matrix or dgesdd. The machine's load average is sampled during every run (the
machines this project runs on are shared), and reported with it. Prints markdown tables and writes
every number to a JSON file.

Example (the numbers in docs/performance.md):
  python3 bench/svd_bench.py --params 0.55B --models 3 --ranks 1 2 --json bench/results/svd_bench.json
  # one layer decomposed (every other matrix averaged): the time per matrix shape, quickly
  python3 bench/svd_bench.py --ranks 1 2 --exclude 'model.layers.[1-9]*,lm_head.weight,*embed*' \
      --json bench/results/svd_bench_layer0.json
"""
import argparse
import json
import os
import re
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
METHODS = ["tsv_m", "iso_c", "iso_cts"]


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class LoadSampler:
    """The 1-minute load average every 5 s while a run lasts."""

    def __init__(self):
        self.samples, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(5):
            self.samples.append(load_average())

    def __enter__(self):
        self.samples.append(load_average())
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append(load_average())


def generate(mpimerge, out, params, models):
    if os.path.exists(os.path.join(out, f"ft-{models}.h5")):
        return
    subprocess.run(["mpirun", "-n", "2", mpimerge, "generate", "--output-dir", out, "--params", params, "--models",
                    str(models), "--dtype", "bfloat16", "--quiet"], check=True, env=ENV)


def merge(mpimerge, data, models, method, ranks, out, budget, exclude):
    cmd = ["mpirun", "-n", str(ranks), mpimerge, "merge", "--method", method, "--base", f"{data}/base.h5"]
    for i in range(1, models + 1):
        cmd += ["--model", f"{data}/ft-{i}.h5"]
    cmd += ["--output", out, "--overwrite", "--progress", "none"]
    if budget:
        cmd += ["--memory-budget", budget]
    if exclude:
        cmd += ["--exclude", exclude]
    with LoadSampler() as load:
        start = time.time()
        done = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
        wall = time.time() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    with open(out + ".report.json") as f:
        report = json.load(f)
    os.remove(out)
    return {"method": method, "ranks": ranks, "wall_seconds": wall, "load": load.samples, "report": report,
            "log": done.stdout}


def shape_times(report):
    """{shape: (matrices, seconds summed over ranks)} from the findings."""
    out = {}
    for key, value in report.get("findings", {}).items():
        m = re.match(r"seconds merging the (\d+) matrices (\[[0-9, ]+\])", key)
        if m:
            out[m.group(2)] = (int(m.group(1)), value)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mpimerge", default=os.path.join(ROOT, "build", "src", "mpimerge"))
    p.add_argument("--data", default=os.path.join(ROOT, "bench-data"))
    p.add_argument("--params", default="0.55B")
    p.add_argument("--models", type=int, default=3)
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--methods", nargs="+", default=METHODS)
    p.add_argument("--budget", default=None, help="--memory-budget for every merge (default: mpimerge's)")
    p.add_argument("--exclude", default=None,
                   help="tensors averaged instead of decomposed (--exclude of the methods): a quick per-shape "
                        "timing decomposes one layer, e.g. 'model.layers.[1-9]*,lm_head.weight,*embed*'")
    p.add_argument("--json", default=None)
    p.add_argument("--priority", type=int, default=None, metavar="NICE",
                   help="the nice value of this process's scheduling autogroup (e.g. -20, as root), so that on a "
                        "shared machine the merges take the cores from other sessions' work, which a plain nice "
                        "does not do where the kernel groups tasks by session (sched_autogroup_enabled)")
    args = p.parse_args()
    if args.priority is not None:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(args.priority))
    data = os.path.join(args.data, f"llama-{args.params}-{args.models}")
    os.makedirs(data, exist_ok=True)
    generate(args.mpimerge, data, args.params, args.models)

    machine = {"cpus": os.cpu_count(), "load_before": load_average(), "autogroup_nice": args.priority}
    with open("/proc/meminfo") as f:
        machine["memory_gb"] = int(f.readline().split()[1]) / 1e6
    runs = []
    for method in args.methods:
        for ranks in args.ranks:
            r = merge(args.mpimerge, data, args.models, method, ranks, os.path.join(data, "merged.h5"), args.budget,
                      args.exclude)
            runs.append(r)
            loads = r["load"]
            print(f"{method} at {ranks} ranks: {r['wall_seconds']:.1f} s, load average {min(loads):.1f}-{max(loads):.1f}",
                  flush=True)

    print("\n| method | ranks | wall s | merge s | read s | write s | peak RSS / rank | Gram / dgesdd | load average (min-max) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        rep = r["report"]
        phases = {k: v["seconds"] for k, v in rep["phases"].items()}
        peak = max(rep["memory"]["peak_rss_per_rank"]) / 1e9
        f = rep.get("findings", {})
        gram = int(f.get("decompositions through the Gram matrix", 0))
        direct = int(f.get("decompositions by dgesdd (ill-conditioned or rank-deficient)", 0))
        print(f"| {r['method']} | {r['ranks']} | {r['wall_seconds']:.1f} | {phases.get('merge', 0):.1f} | "
              f"{phases.get('read', 0):.1f} | {phases.get('write', 0):.1f} | {peak:.2f} GB | {gram} / {direct} | "
              f"{min(r['load']):.1f}-{max(r['load']):.1f} |")
    print("\nSeconds per matrix, by shape (summed over ranks, divided by the matrices of that shape):\n")
    shapes = sorted({s for r in runs for s in shape_times(r["report"])})
    print("| method | ranks | " + " | ".join(shapes) + " |")
    print("|---|---|" + "---|" * len(shapes))
    for r in runs:
        t = shape_times(r["report"])
        print(f"| {r['method']} | {r['ranks']} | " +
              " | ".join(f"{t[s][1] / t[s][0]:.2f} ({t[s][0]})" if s in t else "" for s in shapes) + " |")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "params": args.params, "models": args.models, "exclude": args.exclude,
                       "runs": runs}, f, indent=1)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

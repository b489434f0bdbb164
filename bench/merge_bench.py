#!/usr/bin/env python3
"""mpimerge against the I/O floor, on one set of files, in one run.

Writes (or reuses) a Llama-style base and fine-tunes with `mpimerge generate`, then measures:
  - the I/O floor: reading every input once (cat) and writing one output of the output's size (dd,
    through the page cache, conv=fsync), with the files in the page cache and, with --cold, after
    dropping the caches; and the same with the write past the page cache (dd oflag=direct), the
    floor of a merge run with --output-io direct;
  - mpimerge merges (methods x ranks x in memory / streaming under a budget), each timed from the
    outside, with its JSON report for phases, peak memory per rank, bytes reduced per rank and
    the number of reads of the inputs;
  - optionally a second table over growing model sizes (--sizes);
  - optionally (--sweep) a grid of TIES densities x lambdas as one `mpimerge sweep` against the
    same points run as separate merges.
Prints markdown tables and writes everything to a JSON file.

Example (the numbers in docs/performance.md):
  python3 bench/merge_bench.py --params 2B --models 3 --ranks 1 2 --budget 256M --cold --also-mpiio \
      --sizes 0.25B 0.5B 1B 2B --sweep 0.5B --json bench/results/merge_bench.json
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")

# name, merge arguments (methods that need no extra inputs)
CONFIGS = [
    ("ties, model scope", ["--method", "ties", "--density", "0.2", "--trim-scope", "model"]),
    ("ties, tensor scope", ["--method", "ties", "--density", "0.2", "--trim-scope", "tensor"]),
    ("dare_ties", ["--method", "dare_ties", "--density", "0.2", "--seed", "1"]),
    ("task arithmetic", ["--method", "task_arithmetic", "--lambda", "0.3"]),
]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, env=ENV, **kw)


def drop_caches():
    subprocess.run(["sync"], check=True)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def warm(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass


def io_floor(inputs, output_bytes, scratch, cold):
    """Seconds to read every input once, to write output_bytes through the page cache, and to write
    them past it (O_DIRECT), with plain sequential I/O."""
    if cold:
        drop_caches()
    else:
        warm(inputs)
    t0 = time.monotonic()
    for p in inputs:
        run(["cat", p], stdout=subprocess.DEVNULL)
    read_s = time.monotonic() - t0
    target = os.path.join(scratch, "floor.out")
    t0 = time.monotonic()
    run(["dd", "if=/dev/zero", "of=" + target, "bs=16M", "count=%d" % max(1, output_bytes >> 24),
         "conv=fsync"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    write_s = time.monotonic() - t0
    os.remove(target)
    t0 = time.monotonic()
    run(["dd", "if=/dev/zero", "of=" + target, "bs=16M", "count=%d" % max(1, output_bytes >> 24),
         "oflag=direct", "conv=fsync"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    direct_s = time.monotonic() - t0
    os.remove(target)
    return read_s, write_s, direct_s


def available_methods(binary):
    out = subprocess.run([binary, "merge", "--help"], env=ENV, capture_output=True, text=True).stdout
    return out


def merge(binary, ranks, inputs, output, extra, budget, cold, output_io):
    report = output + ".report.json"
    cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", binary, "merge", "--quiet", "--overwrite",
           "--output-io", output_io, "--base", inputs[0]]
    for m in inputs[1:]:
        cmd += ["--model", m]
    cmd += ["--output", output, "--report", report] + extra
    if budget:
        cmd += ["--memory-budget", budget]
    if cold:
        drop_caches()
    else:
        warm(inputs)
    t0 = time.monotonic()
    run(cmd)
    wall = time.monotonic() - t0
    with open(report) as f:
        r = json.load(f)
    os.remove(report)
    return wall, r


def generate(binary, directory, params, models, dtype, ranks):
    marker = os.path.join(directory, "params.txt")
    if os.path.exists(marker) and open(marker).read().strip() == f"{params} {models} {dtype}":
        return
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    run(["mpirun", "-n", str(ranks), binary, "generate", "--quiet", "--output-dir", directory,
         "--params", params, "--models", str(models), "--dtype", dtype])
    with open(marker, "w") as f:
        f.write(f"{params} {models} {dtype}\n")


def sweep_against_separate(binary, ranks, inputs, workdir, budget, output_io):
    """Seconds for a grid as one `mpimerge sweep`, and for the same points as separate merges."""
    densities, lambdas = ["0.1", "0.2", "0.3"], ["0.8", "1.0"]
    out_dir = os.path.join(workdir, "sweep")
    shutil.rmtree(out_dir, ignore_errors=True)
    config = os.path.join(workdir, "sweep.yaml")
    with open(config, "w") as f:
        f.write(f"base: {inputs[0]}\nmodels: [{', '.join(inputs[1:])}]\noutput_dir: {out_dir}\n"
                f"grid:\n  method: ties\n  density: [{', '.join(densities)}]\n  lambda: [{', '.join(lambdas)}]\n")
    cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", binary, "sweep", "--quiet", "--config", config,
           "--output-io", output_io]
    if budget:
        cmd += ["--memory-budget", budget]
    warm(inputs)
    t0 = time.monotonic()
    run(cmd)
    sweep_s = time.monotonic() - t0
    shutil.rmtree(out_dir, ignore_errors=True)
    separate_s = 0.0
    output = os.path.join(workdir, "point.h5")
    for d in densities:
        for lam in lambdas:
            wall, _ = merge(binary, ranks, inputs, output, ["--method", "ties", "--density", d, "--lambda", lam],
                            budget, False, output_io)
            separate_s += wall
    os.remove(output)
    return len(densities) * len(lambdas), sweep_s, separate_s


def fmt_bytes(n):
    return f"{n / 1e9:.2f} GB"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "src", "mpimerge"))
    ap.add_argument("--workdir", default="/tmp/mpimerge-bench")
    ap.add_argument("--params", default="0.5B")
    ap.add_argument("--models", type=int, default=3)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--budget", default="1G", help="a per-rank budget that forces streaming")
    ap.add_argument("--cold", action="store_true", help="also measure with caches dropped before each run")
    ap.add_argument("--cold-methods", type=int, default=1,
                    help="with --cold: how many of the methods (in table order) also run cold")
    ap.add_argument("--sizes", nargs="*", default=[], help="model sizes for the growth table")
    ap.add_argument("--sweep", metavar="SIZE", help="also time a grid as one sweep against separate merges, "
                    "on models of SIZE parameters (e.g. 0.5B)")
    ap.add_argument("--output-io", default="direct", choices=["direct", "mpiio"],
                    help="how mpimerge writes its outputs (merge --output-io)")
    ap.add_argument("--also-mpiio", action="store_true",
                    help="also run the first method with --output-io mpiio, at the most ranks, warm")
    ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results.json"))
    args = ap.parse_args()

    helptext = available_methods(args.binary)
    configs = [(n, a) for n, a in CONFIGS if a[1] in helptext]
    results = {"machine": {"cores": os.cpu_count(), "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")},
               "params": args.params, "models": args.models, "dtype": args.dtype, "runs": [], "growth": []}

    data = os.path.join(args.workdir, "set-" + args.params)
    generate(args.binary, data, args.params, args.models, args.dtype, max(args.ranks))
    inputs = [os.path.join(data, "base.h5")] + [os.path.join(data, f"ft-{i}.h5") for i in range(1, args.models + 1)]
    input_bytes = sum(os.path.getsize(p) for p in inputs)
    output = os.path.join(args.workdir, "merged.h5")
    caches = ["warm"] + (["cold"] if args.cold else [])
    floors = {}
    for cache in caches:
        read_s, write_s, direct_s = io_floor(inputs, os.path.getsize(inputs[0]), args.workdir, cache == "cold")
        floors[cache] = {"read_s": read_s, "write_s": write_s, "total_s": read_s + write_s,
                         "direct_write_s": direct_s, "direct_total_s": read_s + direct_s}
    results["io_floor"] = floors
    results["input_bytes"] = input_bytes

    print(f"\n{args.models} fine-tunes + base, {args.params} parameters each, {args.dtype}: "
          f"{fmt_bytes(input_bytes)} of inputs, {fmt_bytes(os.path.getsize(inputs[0]))} output")
    for cache, f in floors.items():
        print(f"I/O floor ({cache}): read {f['read_s']:.2f} s + write {f['write_s']:.2f} s = {f['total_s']:.2f} s; "
              f"with a direct write {f['direct_write_s']:.2f} s: {f['direct_total_s']:.2f} s")
    print("\n| method | ranks | memory | output I/O | cache | wall s | input GB/s | x I/O floor | x direct floor "
          "| reads of inputs | peak RSS / rank | reduced / rank |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    runs = [(name, extra, ranks, budget, cache, args.output_io)
            for index, (name, extra) in enumerate(configs) for ranks in args.ranks for budget in [None, args.budget]
            for cache in (caches if index < args.cold_methods else ["warm"])]
    if args.also_mpiio and configs:
        runs.insert(0, (configs[0][0], configs[0][1], max(args.ranks), args.budget, "warm", "mpiio"))
    for name, extra, ranks, budget, cache, output_io in runs:
        wall, r = merge(args.binary, ranks, inputs, output, extra, budget, cache == "cold", output_io)
        row = {"method": name, "ranks": ranks, "budget": budget or "default", "cache": cache,
               "output_io": output_io, "wall_s": wall, "input_gb_s": input_bytes / wall / 1e9,
               "floor_ratio": wall / floors[cache]["total_s"],
               "direct_floor_ratio": wall / floors[cache]["direct_total_s"],
               "reads": r["memory"]["reads_of_the_inputs"], "groups": r["memory"]["groups"],
               "peak_rss": max(r["memory"]["peak_rss_per_rank"]),
               "reduced_bytes": r["reduction_bytes_per_rank"], "phases": r["phases"],
               "passes": r["analysis_passes"]}
        results["runs"].append(row)
        memory = "in memory" if row["groups"] == 1 else f"{budget or 'default'} ({row['groups']} groups)"
        print(f"| {name} | {ranks} | {memory} | {output_io} | {cache} | {wall:.2f} | {row['input_gb_s']:.2f} | "
              f"{row['floor_ratio']:.2f} | {row['direct_floor_ratio']:.2f} | {row['reads']} | "
              f"{fmt_bytes(row['peak_rss'])} | "
              f"{row['reduced_bytes'] / 1e6:.2f} MB |")
        sys.stdout.flush()

    if args.sweep:
        ranks = max(args.ranks)
        d = os.path.join(args.workdir, "set-" + args.sweep)
        generate(args.binary, d, args.sweep, args.models, args.dtype, ranks)
        sweep_inputs = [os.path.join(d, "base.h5")] + [os.path.join(d, f"ft-{i}.h5") for i in range(1, args.models + 1)]
        print(f"\nSweep: ties over 3 densities x 2 lambdas, {args.sweep} parameters per model, {ranks} ranks, warm cache")
        print("| memory | points | one sweep s | separate merges s | saving |")
        print("|---|---|---|---|---|")
        results["sweep"] = []
        for budget in [None, args.budget]:
            points, sweep_s, separate_s = sweep_against_separate(args.binary, ranks, sweep_inputs, args.workdir, budget,
                                                                 args.output_io)
            results["sweep"].append({"budget": budget or "default", "points": points, "sweep_s": sweep_s,
                                     "separate_s": separate_s})
            print(f"| {budget or 'default'} | {points} | {sweep_s:.2f} | {separate_s:.2f} | {separate_s / sweep_s:.2f}x |")
            sys.stdout.flush()

    if args.sizes:
        ranks = max(args.ranks)
        print(f"\nGrowth: ties (model scope), {ranks} ranks, default memory, warm cache")
        print("| parameters per model | input | wall s | x I/O floor | input GB/s | reduced / rank | peak RSS / rank |")
        print("|---|---|---|---|---|---|---|")
        for size in args.sizes:
            d = os.path.join(args.workdir, "set-" + size)
            generate(args.binary, d, size, args.models, args.dtype, ranks)
            ins = [os.path.join(d, "base.h5")] + [os.path.join(d, f"ft-{i}.h5") for i in range(1, args.models + 1)]
            nbytes = sum(os.path.getsize(p) for p in ins)
            read_s, write_s, _ = io_floor(ins, os.path.getsize(ins[0]), args.workdir, False)
            wall, r = merge(args.binary, ranks, ins, output, CONFIGS[0][1], None, False, args.output_io)
            row = {"params": size, "input_bytes": nbytes, "wall_s": wall, "floor_s": read_s + write_s,
                   "reduced_bytes": r["reduction_bytes_per_rank"], "peak_rss": max(r["memory"]["peak_rss_per_rank"])}
            results["growth"].append(row)
            print(f"| {size} | {fmt_bytes(nbytes)} | {wall:.2f} | {wall / row['floor_s']:.2f} | "
                  f"{nbytes / wall / 1e9:.2f} | {row['reduced_bytes'] / 1e6:.2f} MB | {fmt_bytes(row['peak_rss'])} |")
            if d != data:
                shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nresults: {args.json}")


if __name__ == "__main__":
    main()

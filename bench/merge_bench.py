#!/usr/bin/env python3
"""mpimerge against the I/O floor, on one set of files, in one run.

Writes (or reuses) a Llama-style base and fine-tunes with `mpimerge generate`, then measures, in the
same run:
  - the I/O floor: reading every input once (`cat`) and writing one output of the output's size with
    O_DIRECT (`dd oflag=direct`): the *direct floor*, which every ratio is stated against. With the
    files in the page cache (warm) and, with --cold, after dropping the caches (echo 3 >
    /proc/sys/vm/drop_caches). The same write through the page cache (`dd conv=fsync`) is an extra
    column only: on VMs its cost moves eightfold with the machine's memory state;
  - mpimerge merges, each timed from the outside (mpirun included), with its JSON report for the
    phases (each rank's own), peak memory per rank, bytes reduced per rank and reads of the inputs.
    The first rows of every table are the DEFAULT OPTIONS (no flags but the method's); --baseline
    adds the same default rows for another binary (e.g. main's), in the same run; --options adds rows
    with other flags; every row states its options;
  - --repeat N: every floor and merge N times, interleaved; the tables give the best (smallest) of
    each, the JSON every try;
  - optionally a growth table (--sizes) and a sweep against separate merges (--sweep), at the
    default options.
Prints markdown tables and writes everything to a JSON file.

Example (docs/performance.md, the issue-15 table):
  nice -n -15 python3 bench/merge_bench.py --params 0.55B --models 3 --ranks 2 --methods 1 --cold \
      --baseline /path/to/main/mpimerge --options "--memory-budget 512M --output-io direct" --repeat 3 \
      --json bench/results/defaults.json
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
    """The inputs into the page cache, then nothing left to write back or to discard: the root file
    system here is ext4 mounted with `discard`, and the blocks of a file removed just before (the
    floor's dd output, the last try's merge output) are discarded at the next journal commit, which
    a sync forces now rather than during the next timed run."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass
    os.sync()


def io_floor(inputs, output_bytes, scratch, cold):
    """Seconds to read every input once (cat), to write output_bytes with O_DIRECT (dd oflag=direct: the
    floor), and to write them through the page cache (dd conv=fsync: an extra column)."""
    if cold:
        drop_caches()
    else:
        warm(inputs)
    t0 = time.monotonic()
    for p in inputs:
        run(["cat", p], stdout=subprocess.DEVNULL)
    read_s = time.monotonic() - t0
    target = os.path.join(scratch, "floor.out")
    count = "count=%d" % max(1, output_bytes >> 24)
    t0 = time.monotonic()
    run(["dd", "if=/dev/zero", "of=" + target, "bs=16M", count, "oflag=direct", "conv=fsync"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    direct_s = time.monotonic() - t0
    os.remove(target)
    t0 = time.monotonic()
    run(["dd", "if=/dev/zero", "of=" + target, "bs=16M", count, "conv=fsync"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    buffered_s = time.monotonic() - t0
    os.remove(target)
    return {"read_s": read_s, "direct_write_s": direct_s, "direct_total_s": read_s + direct_s,
            "buffered_write_s": buffered_s, "buffered_total_s": read_s + buffered_s}


def launch_seconds(binary, ranks, env_extra=()):
    """Seconds for mpirun to start `ranks` processes of the binary that initialise MPI and exit (its
    --help): what every merge's wall time spends outside the merge. env_extra: NAME=VALUE settings."""
    env = dict(ENV, **dict(e.split("=", 1) for e in env_extra))
    t0 = time.monotonic()
    subprocess.run(["mpirun", "-n", str(ranks), "--oversubscribe", binary, "--help"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def best_floor(tries):
    return {k: min(t[k] for t in tries) for k in tries[0]}


def available_methods(binary):
    out = subprocess.run([binary, "merge", "--help"], env=ENV, capture_output=True, text=True).stdout
    return out


def merge(binary, ranks, inputs, output, extra, cold, options=()):
    """One merge with the method's arguments (extra) and the options (no options: the defaults)."""
    report = output + ".report.json"
    # A new file each try, as the floor's dd writes one: replacing the last try's output made the
    # rename at the end free its 1.1 GB of extents inside the timed run (0.18 s of the 0.55B merge,
    # strace), which a first merge to a new path does not pay.
    for leftover in (output, output + ".manifest.json"):
        if os.path.exists(leftover):
            os.remove(leftover)
    cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", binary, "merge", "--quiet", "--overwrite", "--base", inputs[0]]
    for m in inputs[1:]:
        cmd += ["--model", m]
    cmd += ["--output", output, "--report", report] + list(extra) + list(options)
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


def options_text(options):
    return " ".join(options) if options else "defaults (no flags)"


def phases_text(r):
    """Each rank's seconds per phase: "read 1.2/1.3, select ...", the slowest rank's where not per rank."""
    parts = []
    for name, p in r.get("phases", {}).items():
        per_rank = p.get("seconds_per_rank") or [p["seconds"]]
        parts.append(name + " " + "/".join(f"{s:.2f}" for s in per_rank))
    return ", ".join(parts)


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


def sweep_against_separate(binary, ranks, inputs, workdir, options):
    """Seconds for a grid as one `mpimerge sweep`, and for the same points as separate merges."""
    densities, lambdas = ["0.1", "0.2", "0.3"], ["0.8", "1.0"]
    out_dir = os.path.join(workdir, "sweep")
    shutil.rmtree(out_dir, ignore_errors=True)
    config = os.path.join(workdir, "sweep.yaml")
    with open(config, "w") as f:
        f.write(f"base: {inputs[0]}\nmodels: [{', '.join(inputs[1:])}]\noutput_dir: {out_dir}\n"
                f"grid:\n  method: ties\n  density: [{', '.join(densities)}]\n  lambda: [{', '.join(lambdas)}]\n")
    cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", binary, "sweep", "--quiet", "--config", config] + list(options)
    warm(inputs)
    t0 = time.monotonic()
    run(cmd)
    sweep_s = time.monotonic() - t0
    shutil.rmtree(out_dir, ignore_errors=True)
    separate_s = 0.0
    output = os.path.join(workdir, "point.h5")
    for d in densities:
        for lam in lambdas:
            wall, _ = merge(binary, ranks, inputs, output, ["--method", "ties", "--density", d, "--lambda", lam], False,
                            options)
            separate_s += wall
    os.remove(output)
    return len(densities) * len(lambdas), sweep_s, separate_s


def fmt_bytes(n):
    return f"{n / 1e9:.2f} GB"


def load_average():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "src", "mpimerge"))
    ap.add_argument("--baseline", help="another mpimerge binary (e.g. main's) whose default options also run, in the same run")
    ap.add_argument("--workdir", default="/tmp/mpimerge-bench")
    ap.add_argument("--params", default="0.5B")
    ap.add_argument("--models", type=int, default=3)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--methods", type=int, default=len(CONFIGS), help="how many of the methods (in table order) to run")
    ap.add_argument("--options", action="append", default=[],
                    help='other options to run after the defaults, e.g. "--memory-budget 512M --output-io direct" (repeat)')
    ap.add_argument("--cold", action="store_true", help="also measure with caches dropped before each run")
    ap.add_argument("--cold-methods", type=int, default=1,
                    help="with --cold: how many of the methods (in table order) also run cold")
    ap.add_argument("--repeat", type=int, default=1, help="run every floor and merge this many times; report the best")
    ap.add_argument("--sizes", nargs="*", default=[], help="model sizes for the growth table (default options)")
    ap.add_argument("--sweep", metavar="SIZE", help="also time a grid as one sweep against separate merges, "
                    "on models of SIZE parameters (e.g. 0.5B), at the default options")
    ap.add_argument("--launch-env", action="append", default=[], metavar="NAME=VALUE",
                    help="also time the MPI launch with this environment setting (repeat), e.g. "
                         "OMPI_MCA_mtl=^ofi,psm,psm2 where the machine has no InfiniPath/Omni-Path hardware")
    ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results.json"))
    args = ap.parse_args()

    helptext = available_methods(args.binary)
    configs = [(n, a) for n, a in CONFIGS if a[1] in helptext][:args.methods]
    results = {"machine": {"cores": os.cpu_count(), "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
                           "nice": os.nice(0), "load_average_at_start": load_average()},
               "binary": args.binary, "baseline": args.baseline, "repeat": args.repeat,
               "params": args.params, "models": args.models, "dtype": args.dtype, "runs": [], "growth": []}

    data = os.path.join(args.workdir, "set-" + args.params)
    generate(args.binary, data, args.params, args.models, args.dtype, max(args.ranks))
    inputs = [os.path.join(data, "base.h5")] + [os.path.join(data, f"ft-{i}.h5") for i in range(1, args.models + 1)]
    input_bytes = sum(os.path.getsize(p) for p in inputs)
    output_bytes = os.path.getsize(inputs[0])
    output = os.path.join(args.workdir, "merged.h5")
    caches = ["warm"] + (["cold"] if args.cold else [])
    option_sets = [[]] + [o.split() for o in args.options]
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    binaries = [("this build", args.binary)] + ([("baseline", args.baseline)] if args.baseline else [])

    # Every row: (method, method arguments, ranks, options, cache, binary label, binary). The default
    # options first (this build, then the baseline), then the other options.
    rows = []
    for index, (name, extra) in enumerate(configs):
        for options in option_sets:
            for label, binary in (binaries if not options else binaries[:1]):
                for ranks in args.ranks:
                    for cache in (caches if index < args.cold_methods else ["warm"]):
                        rows.append((name, extra, ranks, options, cache, label, binary))
    rows.sort(key=lambda row: 0 if not row[3] else 1)  # stable: the default options first

    def report(done):
        """The tables so far (the best of the tries done), printed and written to the JSON file."""
        results["runs"] = []
        floors = {cache: best_floor(t) for cache, t in floor_tries.items()}
        results["io_floor"] = {"best": floors, "tries": floor_tries}
        results["input_bytes"] = input_bytes
        results["output_bytes"] = output_bytes

        best_of = f"best of {done}" if done > 1 else "one try"
        print(f"\n{args.models} fine-tunes + base, {args.params} parameters each, {args.dtype}: "
              f"{fmt_bytes(input_bytes)} of inputs, {fmt_bytes(output_bytes)} output; every time the {best_of}")
        for cache, f in floors.items():
            print(f"Direct floor ({cache}): read (cat) {f['read_s']:.2f} s + write (dd oflag=direct) {f['direct_write_s']:.2f} s "
                  f"= {f['direct_total_s']:.2f} s; buffered write (dd conv=fsync) {f['buffered_write_s']:.2f} s")
        results["launch"] = {name: {"best_s": min(t), "tries_s": t} for name, t in launch_tries.items()}
        for name, t in launch_tries.items():
            print(f"MPI launch, {max(args.ranks)} ranks (mpirun ... mpimerge --help, {name}): {min(t):.2f} s, "
                  "inside every wall time below")
        print("\n| method | ranks | options | binary | cache | wall s | x direct floor | x buffered floor | input GB/s "
              "| groups | reads of inputs | output I/O | peak RSS / rank | reduced / rank |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        phase_rows = []
        for (name, extra, ranks, options, cache, label, binary), t in zip(rows, tries):
            wall, r, load = min(t, key=lambda x: x[0])
            f = floors[cache]
            row = {"method": name, "ranks": ranks, "options": options_text(options), "binary": label, "cache": cache,
                   "wall_s": wall, "all_wall_s": [x[0] for x in t], "load_average": [x[2] for x in t],
                   "input_gb_s": input_bytes / wall / 1e9,
                   "direct_floor_ratio": wall / f["direct_total_s"], "buffered_floor_ratio": wall / f["buffered_total_s"],
                   "reads": r["memory"]["reads_of_the_inputs"], "groups": r["memory"]["groups"],
                   "working_set": r["memory"].get("working_set_per_rank"), "working_set_reason": r["memory"].get("working_set_reason"),
                   "output_io": r["output"].get("io"), "output_io_reason": r["output"].get("io_reason"),
                   "peak_rss": max(r["memory"]["peak_rss_per_rank"]), "budget": r["memory"].get("budget_per_rank"),
                   "reduced_bytes": r["reduction_bytes_per_rank"], "phases": r["phases"],
                   "passes": r["analysis_passes"], "findings": r.get("findings")}
            results["runs"].append(row)
            print(f"| {name} | {ranks} | {row['options']} | {label} | {cache} | {wall:.2f} | {row['direct_floor_ratio']:.2f} | "
                  f"{row['buffered_floor_ratio']:.2f} | {row['input_gb_s']:.2f} | {row['groups']} | {row['reads']} | "
                  f"{row['output_io']} | {fmt_bytes(row['peak_rss'])} | {row['reduced_bytes'] / 1e6:.2f} MB |")
            phase_rows.append(f"| {name} | {ranks} | {row['options']} | {label} | {cache} | {phases_text(r)} |")
        print("\nPhases, seconds on each rank (rank 0/rank 1/...), of the best try:")
        print("| method | ranks | options | binary | cache | phases |")
        print("|---|---|---|---|---|---|")
        print("\n".join(phase_rows))
        sys.stdout.flush()

        results["tries_done"] = done
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)

    floor_tries = {cache: [] for cache in caches}
    launches = {"this environment": []} | {e: [e] for e in args.launch_env}
    launch_tries = {name: [] for name in launches}
    tries = [[] for _ in rows]
    for attempt in range(args.repeat):
        for cache in caches:
            floor_tries[cache].append(io_floor(inputs, output_bytes, args.workdir, cache == "cold"))
            print(f"  try {attempt + 1}: floor {cache}: {floor_tries[cache][-1]}", file=sys.stderr)
        for name, env_extra in launches.items():
            launch_tries[name].append(launch_seconds(args.binary, max(args.ranks), env_extra))
        # The rows start one later each attempt: the first merge after the floor's writes (2.2 GB
        # written and removed: discarded at the next journal commit) ran about 2 s slower cold
        # whichever binary it was (docs/performance.md, 4 December evening).
        shift = attempt % len(rows)
        for i in list(range(shift, len(rows))) + list(range(shift)):
            name, extra, ranks, options, cache, label, binary = rows[i]
            wall, r = merge(binary, ranks, inputs, output, extra, cache == "cold", options)
            tries[i].append((wall, r, load_average()))
            print(f"  try {attempt + 1}: {name}, {ranks} ranks, {options_text(options)}, {label}, {cache}: {wall:.2f} s "
                  f"(load {tries[i][-1][2]})", file=sys.stderr)
        report(attempt + 1)
    if args.sweep:
        ranks = max(args.ranks)
        d = os.path.join(args.workdir, "set-" + args.sweep)
        generate(args.binary, d, args.sweep, args.models, args.dtype, ranks)
        sweep_inputs = [os.path.join(d, "base.h5")] + [os.path.join(d, f"ft-{i}.h5") for i in range(1, args.models + 1)]
        print(f"\nSweep: ties over 3 densities x 2 lambdas, {args.sweep} parameters per model, {ranks} ranks, warm cache")
        print("| options | points | one sweep s | separate merges s | saving |")
        print("|---|---|---|---|---|")
        results["sweep"] = []
        for options in option_sets:
            points, sweep_s, separate_s = sweep_against_separate(args.binary, ranks, sweep_inputs, args.workdir, options)
            results["sweep"].append({"options": options_text(options), "points": points, "sweep_s": sweep_s,
                                     "separate_s": separate_s})
            print(f"| {options_text(options)} | {points} | {sweep_s:.2f} | {separate_s:.2f} | {separate_s / sweep_s:.2f}x |")
            sys.stdout.flush()

    if args.sizes:
        ranks = max(args.ranks)
        print(f"\nGrowth: {configs[0][0]}, {ranks} ranks, default options, warm cache")
        print("| parameters per model | input | wall s | direct floor s | x direct floor | input GB/s | read s | select s (passes) "
              "| merge s | write s | select ns / entry / pass | merge ns / entry | reduced / rank | peak RSS / rank |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for size in args.sizes:
            d = os.path.join(args.workdir, "set-" + size)
            generate(args.binary, d, size, args.models, args.dtype, ranks)
            ins = [os.path.join(d, "base.h5")] + [os.path.join(d, f"ft-{i}.h5") for i in range(1, args.models + 1)]
            nbytes = sum(os.path.getsize(p) for p in ins)
            # --repeat N: N interleaved tries of the floor and the merge, the best of each.
            floors, tries = [], []
            for _ in range(args.repeat):
                floors.append(io_floor(ins, os.path.getsize(ins[0]), args.workdir, False))
                tries.append(merge(args.binary, ranks, ins, output, configs[0][1], False))
            floor = best_floor(floors)
            wall, r = min(tries, key=lambda t: t[0])
            # Per model entry on a rank (the fine-tunes' parameters over the ranks), on the slowest rank:
            # the "ns per model entry per pass".
            entries = r["parameters_per_model"] * args.models / ranks
            slowest = {k: max(v.get("seconds_per_rank") or [v["seconds"]]) for k, v in r["phases"].items()}
            passes = max(1, r["analysis_passes"])
            row = {"params": size, "input_bytes": nbytes, "wall_s": wall, "direct_floor_s": floor["direct_total_s"],
                   "floor": floor, "reduced_bytes": r["reduction_bytes_per_rank"],
                   "peak_rss": max(r["memory"]["peak_rss_per_rank"]), "phases": r["phases"], "passes": r["analysis_passes"],
                   "select_ns_per_entry_pass": slowest.get("select", 0) / passes / entries * 1e9,
                   "merge_ns_per_entry": slowest.get("merge", 0) / entries * 1e9, "groups": r["memory"]["groups"],
                   "reads": r["memory"]["reads_of_the_inputs"], "output_io": r["output"].get("io"),
                   "all_wall_s": [t[0] for t in tries], "all_direct_floor_s": [f["direct_total_s"] for f in floors]}
            results["growth"].append(row)
            print(f"| {size} | {fmt_bytes(nbytes)} | {wall:.2f} | {row['direct_floor_s']:.2f} | {wall / row['direct_floor_s']:.2f} | "
                  f"{nbytes / wall / 1e9:.2f} | {slowest.get('read', 0):.2f} | {slowest.get('select', 0):.2f} ({r['analysis_passes']}) | "
                  f"{slowest.get('merge', 0):.2f} | {slowest.get('write', 0):.2f} | {row['select_ns_per_entry_pass']:.2f} | "
                  f"{row['merge_ns_per_entry']:.2f} | {row['reduced_bytes'] / 1e6:.2f} MB | {fmt_bytes(row['peak_rss'])} |")
            sys.stdout.flush()
            if d != data:
                shutil.rmtree(d, ignore_errors=True)
    if os.path.exists(output):
        os.remove(output)
    results["machine"]["load_average_at_end"] = load_average()
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nresults: {args.json}")


if __name__ == "__main__":
    main()

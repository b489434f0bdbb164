#!/usr/bin/env python3
"""TIES under a range of --memory-budget values: reads of the inputs, time and peak memory, for this
binary and (optionally) another, in one run.

For each budget (and `default`: no --memory-budget), rank count and trim scope, every binary merges
the same set (written by bench/merge_bench.py's generator, or reused), tries interleaved, the inputs
warm in the page cache before each. Per row: the reads of the inputs, the passes that only counted
signs (the report's finding), the method's share of the budget, the output buffer's share that
its analysis held too, its runs of tensors and the groups (the report's `memory`), the wall time
from outside (mpirun included) and the program's own seconds (the report's), the peak RSS of the
largest rank, and whether every output has the same bytes as the
first binary's merge at the defaults (`cmp`). Prints a markdown table (the best try of each), and
writes every try to --json.

Example (docs/performance.md, "4 December (evening)"):
  python3 bench/budget_bench.py --params 0.55B --ranks 2 --scope tensor \\
      --budgets 512K 1M 2M 8M 512M default --baseline /path/to/main/mpimerge --repeat 3 \\
      --json bench/results/budget_cap_0.55B.json
"""
import argparse
import filecmp
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from merge_bench import generate, merge  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="build/src/mpimerge")
    ap.add_argument("--baseline", help="another mpimerge binary, run the same way in the same run")
    ap.add_argument("--workdir", default="/tmp/mpimerge-bench")
    ap.add_argument("--params", default="0.55B")
    ap.add_argument("--models", type=int, default=3)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--ranks", type=int, nargs="+", default=[2])
    ap.add_argument("--scope", nargs="+", default=["tensor"], choices=["model", "tensor"])
    ap.add_argument("--budgets", nargs="+", default=["512K", "2M", "8M", "512M", "default"])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()

    binaries = [("this", os.path.abspath(args.binary))]
    if args.baseline:
        binaries.append(("baseline", os.path.abspath(args.baseline)))
    # One directory per dtype: a set of another dtype under the same name was regenerated over it.
    set_dir = os.path.join(args.workdir, f"set-{args.params}" + ("" if args.dtype == "bfloat16" else f"-{args.dtype}"))
    generate(binaries[0][1], set_dir, args.params, args.models, args.dtype, max(args.ranks))
    inputs = [os.path.join(set_dir, "base.h5")] + [os.path.join(set_dir, f"ft-{i}.h5") for i in range(1, args.models + 1)]
    scratch = os.path.join(args.workdir, "budget-bench")
    os.makedirs(scratch, exist_ok=True)

    rows, tries = [], []
    for scope in args.scope:
        method = ["--method", "ties", "--density", "0.2", "--trim-scope", scope]
        for ranks in args.ranks:
            reference = os.path.join(scratch, f"reference-{scope}-{ranks}.h5")
            merge(binaries[0][1], ranks, inputs, reference, method, cold=False)
            for budget in args.budgets:
                options = [] if budget == "default" else ["--memory-budget", budget]
                best = {}
                for t in range(args.repeat):
                    for name, binary in binaries:
                        output = os.path.join(scratch, f"{name}.h5")
                        wall, r = merge(binary, ranks, inputs, output, method, cold=False, options=options)
                        memory = r["memory"]
                        one = {"scope": scope, "ranks": ranks, "budget": budget, "binary": name, "try": t,
                               "wall_s": wall, "seconds": r["seconds"], "reads": memory["reads_of_the_inputs"],
                               "groups": memory["groups"], "peak_rss": max(memory["peak_rss_per_rank"]),
                               # Where reads past the counts come from: the method's share, its runs.
                               "method_memory": memory.get("method_memory_per_rank"),
                               "idle_output_memory": memory.get("idle_output_memory_per_rank"),
                               "runs": memory.get("analysis_runs"),
                               "same_bytes": filecmp.cmp(reference, output, shallow=False),
                               "findings": r.get("findings", {})}
                        tries.append(one)
                        print(json.dumps({k: v for k, v in one.items() if k != "findings"}), flush=True)
                        b = best.setdefault(name, dict(one))
                        for key in ("wall_s", "seconds", "peak_rss"):
                            b[key] = min(b[key], one[key])
                        b["same_bytes"] = b["same_bytes"] and one["same_bytes"]
                rows.extend(best.values())

    print(f"\n| scope | ranks | budget | binary | reads | sign count passes | method kB | idle output kB | runs | "
          f"groups | wall s | program s | peak RSS MB | same bytes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    def shown(value, scale=1):  # older builds' reports lack the field
        return "-" if value is None else f"{value / scale:g}"
    for r in rows:
        print(f"| {r['scope']} | {r['ranks']} | {r['budget']} | {r['binary']} | {r['reads']} | "
              f"{shown(r['findings'].get('sign count passes'))} | {shown(r['method_memory'], 1000)} | "
              f"{shown(r['idle_output_memory'], 1000)} | {shown(r['runs'])} | "
              f"{r['groups']} | {r['wall_s']:.2f} | {r['seconds']:.2f} | {r['peak_rss'] / 1e6:.0f} | "
              f"{'yes' if r['same_bytes'] else 'NO'} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "best": rows, "tries": tries}, f, indent=1)
    return 0 if all(r["same_bytes"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

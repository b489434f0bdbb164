#!/usr/bin/env python3
"""Plots the JSON of `mpimerge analyze` to one PNG with three panels:
  1. per task, the quantiles of |tau| and its maximum (log scale);
  2. per task, the share of the L2 mass of tau held by its top k% entries;
  3. per trim density, the share of parameters whose kept entries disagree in sign (among the
     parameters with >= 2 kept entries, and among all), with the per-tensor spread.

Usage: plot_analysis.py ANALYSIS.json OUTPUT.png [--title TEXT]
Needs matplotlib (Debian: python3-matplotlib).
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def task_label(task):
    name = os.path.basename(task.get("model") or "")
    return name.rsplit(".", 1)[0] if name else f"task {task['task']}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json")
    parser.add_argument("png")
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    stats = json.load(open(args.json))
    tasks = stats["tasks"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))

    ax = axes[0]
    levels = [str(q) for q in stats["quantile_levels"]] + ["max"]
    for task in tasks:
        ax.plot(levels, task["quantiles"] + [task["max"]], marker="o", label=task_label(task))
    ax.set_yscale("log")
    ax.set_xlabel("quantile of |tau|")
    ax.set_ylabel("|tau|")
    ax.set_title("magnitude of the task vectors")
    ax.legend(fontsize=7)

    ax = axes[1]
    tops = [100 * k for k in stats["mass_tops"]]
    for task in tasks:
        ax.plot(tops, task["mass_fraction"], marker="o", label=task_label(task))
    ax.plot(tops, [k / 100 for k in tops], "k:", label="uniform")
    ax.set_xscale("log")
    ax.set_xlabel("top k% of |tau| (TIES trim)")
    ax.set_ylabel("share of ||tau||^2")
    ax.set_ylim(0, 1.02)
    ax.set_title("L2 mass in the largest entries")
    ax.legend(fontsize=7)

    ax = axes[2]
    densities = [100 * d for d in stats["densities"]]
    overall = stats["sign_conflicts"]
    ax.plot(densities, [c["conflict_among_multi_kept"] for c in overall], "o-", label="among params with >= 2 kept")
    ax.plot(densities, [c["conflict_among_all"] for c in overall], "s-", label="among all params")
    per_tensor = [[t["sign_conflicts"][d]["conflict_among_multi_kept"] for t in stats["tensors"]
                   if t["sign_conflicts"][d]["multi_kept"] > 0] for d in range(len(densities))]
    for x, values in zip(densities, per_tensor):
        ax.scatter([x] * len(values), values, s=8, c="grey", alpha=0.5)
    ax.set_xlabel("trim density k (%)")
    ax.set_ylabel("share of parameters with a sign conflict")
    ax.set_title("sign conflicts of the kept entries (grey: per tensor)")
    ax.legend(fontsize=7)

    fig.suptitle(args.title or f"mpimerge analyze: {len(tasks)} task vectors, {stats['parameters']} parameters each")
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Merging real fine-tuned models with mpimerge, evaluated on real data.

Trains a small MLP on scikit-learn's handwritten digits (the base), fine-tunes one copy per task
(six tasks: digits rotated, mirrored, inverted, and label groupings of transformed digits; see
digits_tasks.py), writes base, models, diagonal Fishers and Gram matrices as HDF5 checkpoints, runs
mpimerge under mpirun with every method this build has, a sweep over TIES density x lambda and
sweeps over lambda for task arithmetic and the task-singular methods (tsv_m, iso_c, iso_cts),
evaluates every merged model on every task, and prints the table (also OUT/table.md) with plots.

    python3 examples/digits/merge_digits.py --mpimerge build/src/mpimerge --out digits-out
    python3 examples/digits/merge_digits.py --quick ...   # the reduced run of the test suite

Seeded and deterministic: CPU, one thread, fixed seeds; the same table on every run.
Exit 77 (skipped) when torch, scikit-learn, h5py or matplotlib are missing (examples/install.sh).
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time

try:
    import h5py
    import numpy as np
    import torch  # noqa: F401
    import sklearn  # noqa: F401
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError as e:
    print(f"SKIP: {e.name} is not installed (examples/install.sh installs python3-torch, python3-sklearn, "
          "python3-h5py and python3-matplotlib)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits_tasks as dt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")

# Every method and the options it runs with here: the papers' or mergekit's usual values, not tuned
# (only task arithmetic and TIES are tuned, on validation, below); DARE and DELLA keep half of each
# task vector (at 0.2 their 1/density rescaling blows the kept entries up fivefold on this small net). {fisher} / {gram} expand to one option per model
# (the file of that model); methods this build lacks are listed as such and skipped.
METHODS = [
    ("average", []),
    ("task_arithmetic", ["--lambda", "0.5"]),
    ("ties", ["--density", "0.2", "--lambda", "1.0"]),
    ("ties", ["--density", "0.2", "--lambda", "1.0", "--trim-scope", "tensor"], "ties (trim per tensor)"),
    ("magnitude_prune", ["--density", "0.2", "--lambda", "0.5"]),
    ("dare_linear", ["--density", "0.5", "--lambda", "0.5", "--seed", "1"]),
    ("dare_ties", ["--density", "0.5", "--lambda", "1.0", "--seed", "1"]),
    ("breadcrumbs", ["--density", "0.2", "--param", "gamma=0.01", "--lambda", "0.5"]),
    ("breadcrumbs_ties", ["--density", "0.2", "--param", "gamma=0.01", "--lambda", "1.0"]),
    ("della", ["--density", "0.5", "--lambda", "1.0", "--seed", "1"]),
    ("della_linear", ["--density", "0.5", "--lambda", "0.5", "--seed", "1"]),
    ("fisher", ["{fisher}"]),
    ("regmean", ["{gram}"]),
    ("model_stock", []),
    ("tsv_m", []),
    ("iso_c", []),
    ("iso_cts", []),
]
QUICK_METHODS = ["average", "task_arithmetic", "ties", "tsv_m", "iso_c", "iso_cts"]
# The task-singular methods, swept over lambda together: one sweep, one read of the inputs.
SVD_METHODS = ["tsv_m", "iso_c", "iso_cts"]


def log(*a):
    print(*a, flush=True)


def run(cmd, check=True):
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r


def write_h5(path, tensors):
    with h5py.File(path, "w") as f:
        for name in sorted(tensors):
            f.create_dataset(name, data=np.asarray(tensors[name], dtype=np.float32))


def read_h5(path):
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in f}


def available_methods(mpimerge):
    """The methods `mpimerge merge --help` lists (its indented "name: summary" lines)."""
    text = run(["mpirun", "-n", "1", mpimerge, "merge", "--help"]).stdout
    return set(re.findall(r"^\s+([a-z_]+): ", text, re.M)) or {"ties", "task_arithmetic", "average"}


def train_all(args, out):
    splits = dt.load_splits(args.seed)
    t0 = time.time()
    base = dt.pretrain_base(splits, args.base_epochs, args.hidden, args.seed)
    tasks = list(dt.TASKS)[: args.tasks]
    heads, models = {}, {}
    for i, task in enumerate(tasks):
        heads[task] = dt.probe_head(base, task, splits, args.probe_epochs, args.seed + i)
        models[task] = dt.fine_tune(base, heads[task], task, splits, args.ft_epochs, args.ft_lr, args.seed + i)
    log(f"trained the base and {len(tasks)} fine-tunes in {time.time() - t0:.1f} s")
    t0 = time.time()
    write_h5(f"{out}/base.h5", base.tensors())
    head_tensors = {}
    for task in tasks:
        write_h5(f"{out}/{task}.h5", models[task].tensors())
        fisher_split = splits["train"] if not args.quick else (splits["train"][0][:200], splits["train"][1][:200])
        write_h5(f"{out}/{task}.fisher.h5", dt.fisher(models[task], heads[task], task, fisher_split))
        write_h5(f"{out}/{task}.gram.h5", dt.grams(models[task], task, splits["train"]))
        head_tensors.update({f"{task}.{k}": v.numpy() for k, v in heads[task].state_dict().items()})
    write_h5(f"{out}/heads.h5", head_tensors)
    log(f"wrote checkpoints, Fishers and Gram matrices in {time.time() - t0:.1f} s")
    return splits, tasks, base, heads, models


def evaluate(tensors, tasks, heads, splits, split="test"):
    body = dt.Body(heads[tasks[0]].in_features)
    body.load(tensors)
    return [dt.accuracy(body, heads[t], t, splits[split]) for t in tasks]


def merge_all(args, out, tasks, methods):
    """One merge per method; returns {label: path} and {method: reason} for the skipped ones."""
    merged, skipped = {}, {}
    have = available_methods(args.mpimerge)
    models = [f"{out}/{t}.h5" for t in tasks]
    for method, options, *label in methods:
        label = label[0] if label else method
        if method not in have:
            skipped[label] = "not in this build (mpimerge merge --help)"
            continue
        expanded = []
        for o in options:
            if o in ("{fisher}", "{gram}"):
                kind = o[1:-1]
                for t in tasks:
                    expanded += [f"--{kind}", f"{out}/{t}.{kind}.h5"]
            else:
                expanded.append(o)
        path = f"{out}/merged-{label.replace(' ', '_').replace('(', '').replace(')', '')}.h5"
        cmd = ["mpirun", "-n", str(args.ranks), args.mpimerge, "merge", "--method", method, "--base", f"{out}/base.h5",
               *sum((["--model", m] for m in models), []), *expanded, "--output", path, "--overwrite", "--quiet",
               "--no-report"]
        r = run(cmd, check=False)
        if r.returncode != 0:
            skipped[label] = "failed: " + (r.stderr.strip().splitlines() or ["?"])[0]
            continue
        merged[label] = path
    return merged, skipped


def sweep(args, out, tasks, densities, lambdas, ta_lambdas, svd_lambdas, svd_methods):
    """TIES over density x lambda, task arithmetic over lambda, and the task-singular methods over
    lambda: one `mpimerge sweep` each (the last for all three methods at once)."""
    models = ", ".join(f"{out}/{t}.h5" for t in tasks)
    # Task arithmetic and the task-singular methods have no density: a grid axis no method uses is
    # refused, so they get none.
    grids = [("ties", "ties", densities, lambdas), ("task_arithmetic", "task_arithmetic", None, ta_lambdas)]
    if svd_methods:
        grids.append(("svd", "[" + ", ".join(svd_methods) + "]", None, svd_lambdas))
    rows = []
    for name, method, ds, ls in grids:
        config = f"{out}/sweep-{name}.yaml"
        density_axis = f"  density: [{', '.join(map(str, ds))}]\n" if ds else ""
        with open(config, "w") as f:
            f.write(f"base: {out}/base.h5\nmodels: [{models}]\noutput_dir: {out}/sweep-{name}\n"
                    f"grid:\n  method: {method}\n{density_axis}"
                    f"  lambda: [{', '.join(map(str, ls))}]\n")
        shutil.rmtree(f"{out}/sweep-{name}", ignore_errors=True)
        run(["mpirun", "-n", str(args.ranks), args.mpimerge, "sweep", "--config", config, "--quiet"])
        with open(f"{out}/sweep-{name}/sweep.csv", newline="") as f:
            for row in csv.DictReader(f):
                density = float(row["density"]) if row.get("density") else float("nan")
                rows.append((row["method"], density, float(row["lambda"]), row["output"]))
    return rows


def table(rows, tasks, finetuned):
    """Markdown: per-task accuracy, mean, and mean normalised by each task's own fine-tuned model."""
    head = "| model | " + " | ".join(tasks) + " | mean | normalised mean |"
    lines = [head, "|" + "---|" * (len(tasks) + 3)]
    for label, accs in rows:
        norm = np.mean([a / f for a, f in zip(accs, finetuned)])
        lines.append(f"| {label} | " + " | ".join(f"{100 * a:.1f}" for a in accs) +
                     f" | {100 * np.mean(accs):.1f} | {100 * norm:.1f} |")
    return "\n".join(lines)


def plots(out, rows, finetuned, grid, densities, lambdas):
    labels = [label for label, _ in rows]
    means = [100 * np.mean(a) for _, a in rows]
    norms = [100 * np.mean([x / f for x, f in zip(a, finetuned)]) for _, a in rows]
    fig, ax = plt.subplots(figsize=(max(7, 0.9 * len(rows)), 4))
    xs = np.arange(len(rows))
    ax.bar(xs - 0.2, means, 0.4, label="mean accuracy")
    ax.bar(xs + 0.2, norms, 0.4, label="normalised mean")
    ax.set_xticks(xs, labels, rotation=30, ha="right")
    ax.set_ylabel("% (test)")
    ax.set_ylim(0, 105)
    ax.legend()
    ax.set_title("digits, 6 tasks: accuracy per method")
    fig.tight_layout()
    fig.savefig(f"{out}/accuracy_per_method.png", dpi=110)
    if grid:
        fig, ax = plt.subplots(figsize=(6, 4))
        im = ax.imshow(100 * np.array(grid), origin="lower", cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(lambdas)), [str(x) for x in lambdas])
        ax.set_yticks(range(len(densities)), [str(x) for x in densities])
        ax.set_xlabel("lambda")
        ax.set_ylabel("density")
        for i in range(len(densities)):
            for j in range(len(lambdas)):
                ax.text(j, i, f"{100 * grid[i][j]:.1f}", ha="center", va="center", fontsize=7, color="w")
        fig.colorbar(im, label="normalised mean accuracy % (test)")
        ax.set_title("TIES over density x lambda")
        fig.tight_layout()
        fig.savefig(f"{out}/ties_density_lambda.png", dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mpimerge", default="build/src/mpimerge")
    p.add_argument("--out", default="digits-out")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="few epochs, six methods, a 2 x 2 sweep and 2-point lambda sweeps (the test suite)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--tasks", type=int, default=len(dt.TASKS))
    args = p.parse_args()
    args.base_epochs, args.probe_epochs, args.ft_epochs, args.ft_lr = (10, 20, 8, 5e-4) if args.quick else (30, 50, 20, 5e-4)
    args.mpimerge = os.path.abspath(args.mpimerge)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    dt.setup(threads=1, seed=args.seed)
    started = time.time()

    splits, tasks, base, heads, models = train_all(args, out)
    base_acc = [dt.accuracy(base, heads[t], t, splits["test"]) for t in tasks]
    finetuned = [dt.accuracy(models[t], heads[t], t, splits["test"]) for t in tasks]
    rows = [("base (linear probes)", base_acc), ("fine-tuned, each on its task", finetuned)]

    methods = [m for m in METHODS if not args.quick or m[0] in QUICK_METHODS]
    merged, skipped = merge_all(args, out, tasks, methods)
    for method, path in merged.items():
        rows.append((method, evaluate(read_h5(path), tasks, heads, splits)))
    log(f"merged with {', '.join(merged)}" + (f"; skipped {', '.join(skipped)}" if skipped else ""))

    # Sweeps; the best point of each is chosen on the validation split, then reported on test.
    densities, lambdas = ([0.1, 0.3], [0.7, 1.0]) if args.quick else ([0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0],
                                                                        [0.3, 0.5, 0.7, 1.0, 1.3, 1.6])
    ta_lambdas = [0.3, 0.5] if args.quick else [0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0]
    svd_lambdas = [0.5, 1.0] if args.quick else [0.3, 0.5, 0.7, 1.0, 1.3, 1.6, 2.0]
    svd_methods = [m for m in SVD_METHODS if m in available_methods(args.mpimerge)]
    points = sweep(args, out, tasks, densities, lambdas, ta_lambdas, svd_lambdas, svd_methods)
    scored = []
    for method, density, lam, path in points:
        tensors = read_h5(path)
        val = evaluate(tensors, tasks, heads, splits, "val")
        val_ft = [dt.accuracy(models[t], heads[t], t, splits["val"]) for t in tasks]
        test = evaluate(tensors, tasks, heads, splits)
        scored.append((method, density, lam, np.mean([a / f for a, f in zip(val, val_ft)]), test))
    grid = [[next(np.mean([a / f for a, f in zip(s[4], finetuned)]) for s in scored
                  if s[0] == "ties" and s[1] == d and s[2] == lam) for lam in lambdas] for d in densities]
    for method in ["task_arithmetic", "ties"] + svd_methods:
        best = max((s for s in scored if s[0] == method), key=lambda s: s[3])
        what = f"lambda {best[2]}" + (f", density {best[1]}" if method == "ties" else "")
        rows.append((f"{method} ({what}; best on validation)", best[4]))

    text = table(rows, tasks, finetuned)
    log("\ntest accuracy (%), " + str(len(splits["test"][1])) + " test images per task\n" + text)
    if skipped:
        log("\nnot run: " + "; ".join(f"{m} ({why})" for m, why in skipped.items()))
    plots(out, rows, finetuned, grid, densities, lambdas)

    # The statistics behind TIES on these task vectors.
    run(["mpirun", "-n", str(args.ranks), args.mpimerge, "analyze", "--base", f"{out}/base.h5",
         *sum((["--model", f"{out}/{t}.h5"] for t in tasks), []), "--densities", "0.05,0.1,0.2,0.5",
         "--output-prefix", f"{out}/analysis", "--overwrite", "--quiet"])
    run([sys.executable, os.path.join(HERE, "..", "..", "python", "plot_analysis.py"), f"{out}/analysis.json",
         f"{out}/analysis.png", "--title", "mpimerge analyze: the digits task vectors"])
    with open(f"{out}/table.md", "w") as f:
        f.write(text + "\n")
    with open(f"{out}/results.json", "w") as f:
        json.dump({"tasks": tasks, "rows": rows, "skipped": skipped, "ties_grid": grid, "densities": densities,
                   "lambdas": lambdas, "svd_lambdas": svd_lambdas,
                   "sweep": [(s[0], s[1], s[2], s[3], s[4]) for s in scored]}, f, indent=1)
    log(f"\nwrote {out}/table.md, results.json, accuracy_per_method.png, ties_density_lambda.png, analysis.* "
        f"in {time.time() - started:.0f} s")

    # The reduced run is a test: the pipeline worked, and merging beats the base on average: the
    # average, and task arithmetic and TIES with their parameters chosen on validation (fixed
    # parameters are reported, not required to win: with few epochs their lambda is not tuned).
    base_mean = np.mean(base_acc)
    for label, accs in rows[2:]:
        if label != "average" and "best on validation" not in label:
            continue
        if np.mean(accs) <= base_mean:
            raise SystemExit(f"FAIL: {label} averages {100 * np.mean(accs):.1f}%, not above the base's "
                             f"{100 * base_mean:.1f}%")
    if not merged:
        raise SystemExit("FAIL: no method merged")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Writes example side inputs for `fisher` and `regmean` next to generated checkpoints:
DIR/fisher-N.h5 (a diagonal Fisher per fine-tune: its squared task vector plus a small floor, the
models' tensor names) and DIR/gram-N.h5 (X^T X of random inputs for every 2-D weight except the
embeddings and the head, named after the weight, shape [in, in]). Stand-ins for what training
would compute, so that jobs/fisher.yaml and jobs/regmean.yaml run on scripts/demo.sh's output.
Usage: python3 scripts/side_inputs.py DIR [MODELS]"""
import sys

import h5py
import numpy as np

out = sys.argv[1]
models = int(sys.argv[2]) if len(sys.argv) > 2 else 3
with h5py.File(f"{out}/base.h5", "r") as base:
    names = list(base.keys())
    for m in range(1, models + 1):
        rng = np.random.default_rng(m)
        with h5py.File(f"{out}/ft-{m}.h5", "r") as ft, h5py.File(f"{out}/fisher-{m}.h5", "w") as fisher, \
                h5py.File(f"{out}/gram-{m}.h5", "w") as gram:
            for name in names:
                b = base[name][()].astype(np.float32)
                tau = ft[name][()].astype(np.float32) - b
                fisher.create_dataset(name, data=(tau * tau + 1e-4).astype(np.float32))
                if b.ndim == 2 and "embed" not in name and "lm_head" not in name:
                    x = rng.standard_normal((b.shape[1] + 8, b.shape[1])).astype(np.float32)
                    gram.create_dataset(name, data=(x.T @ x).astype(np.float32))

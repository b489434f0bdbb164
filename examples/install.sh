#!/usr/bin/env bash
# Installs, from Debian 12's archive, what the examples need beyond mpimerge's own set-up
# (scripts/setup.sh): PyTorch (CPU), scikit-learn (for its bundled digits data), h5py, matplotlib.
# About 1 GB installed (python3-torch and its BLAS/LAPACK stack are most of it). Safe to run again.
set -euo pipefail
packages=(python3 python3-numpy python3-torch python3-sklearn python3-h5py python3-matplotlib)
bash "$(dirname "$0")/../scripts/apt-install.sh" examples/install.sh "${packages[@]}"

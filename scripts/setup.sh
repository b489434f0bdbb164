#!/usr/bin/env bash
# Installs, from Debian 12's archive, whatever mpimerge needs to build, test and run that is not
# installed yet. Safe to run again.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  libeigen3-dev libboost-program-options-dev nlohmann-json3-dev libyaml-cpp-dev libxxhash-dev
  liblapacke-dev libopenblas-serial-dev  # tsv_m, iso_c, iso_cts: LAPACK's SVD and eigensolvers, one thread
  libjemalloc-dev  # the program's allocator (src/CMakeLists.txt): checkpoints of many tensors open faster
  googletest libgtest-dev
  python3 python3-numpy python3-h5py
  python3-torch python3-sklearn python3-matplotlib  # the digits example's test (examples/digits), ~1 GB
  clang libclang-rt-dev  # scripts/fuzz.sh: libFuzzer (-fsanitize=fuzzer) comes with clang's runtime
  libhdf5-dev  # scripts/fuzz.sh: the HDF5 metadata fuzzer links serial HDF5 (the program, parallel)
  slurm-wlm munge  # tests/slurm starts a private single-node Slurm to run the sbatch scripts of slurm/
  iproute2  # tests/slurm/nodes.sh: a multi-node Slurm in network namespaces (ip netns, veth, bridge)
)
bash "$(dirname "$0")/apt-install.sh" setup "${packages[@]}"

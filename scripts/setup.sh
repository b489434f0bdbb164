#!/usr/bin/env bash
# Installs, from Debian 12's archive, whatever mpimerge needs to build, test and run that is not
# installed yet. Safe to run again.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  libeigen3-dev libboost-program-options-dev nlohmann-json3-dev libyaml-cpp-dev libxxhash-dev
  googletest libgtest-dev
  python3 python3-numpy python3-h5py
  python3-torch python3-sklearn python3-matplotlib  # the digits example's test (examples/digits), ~1 GB
  clang libclang-rt-dev  # scripts/fuzz.sh: libFuzzer (-fsanitize=fuzzer) comes with clang's runtime
  slurm-wlm munge  # tests/slurm starts a private single-node Slurm to run the sbatch scripts of slurm/
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

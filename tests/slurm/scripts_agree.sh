#!/usr/bin/env bash
# The sbatch scripts of slurm/ parse, and their copies of the common block (between the ">>> common"
# and "<<< common" lines; sbatch runs a copy of the script, so they cannot source a shared file) are
# identical. Needs no Slurm.
set -euo pipefail
dir=${1:?the slurm/ directory}
fail() { echo "FAIL: $*" >&2; exit 1; }
common() { sed -n '/^# >>> common to slurm/,/^# <<< common to slurm/p' "$1"; }

scripts=("$dir"/*.sbatch)
[ ${#scripts[@]} = 4 ] || fail "expected 4 scripts in $dir, found ${#scripts[@]}"
reference=$(common "${scripts[0]}")
[ "$(grep -c . <<<"$reference")" -gt 50 ] || fail "${scripts[0]}: no common block"
for script in "${scripts[@]}"; do
  bash -n "$script" || fail "$script does not parse"
  [ "$(head -n 1 "$script")" = '#!/bin/bash' ] || fail "$script: the first line must be #!/bin/bash"
  grep -qx 'set -euo pipefail' "$script" || fail "$script lacks set -euo pipefail"
  diff <(echo "$reference") <(common "$script") >&2 || fail "$script: its common block differs from ${scripts[0]}'s"
  # sbatch reads #SBATCH lines only before the first command.
  first_command=$(awk '!/^[[:space:]]*(#|$)/ { print NR; exit }' "$script")
  last_directive=$(awk '/^#SBATCH/ { n = NR } END { print n }' "$script")
  [ "$last_directive" -lt "$first_command" ] || fail "$script: an #SBATCH line after the first command is ignored"
done
echo "slurm/*.sbatch: ${#scripts[@]} scripts parse, one common block: ok"

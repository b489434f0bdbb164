#!/usr/bin/env bash
# The default --memory-budget is the job's own memory, not the node's: a default TIES merge at 2
# ranks, run inside a memory cgroup (v1 or v2) smaller than its inputs, finishes under the limit
# (the kernel does not kill it), says in its report that the budget came from the cgroup,
# and writes the same bytes as the same merge outside. Skipped (77), saying why, where no memory
# cgroup can be made (not root, no memory controller, no delegation).
source "$(dirname "$0")/common.sh"
LIMIT=$((400 << 20))  # 400 MiB; the three inputs are 540 MB, an in-memory merge needs 720 MB
skip() { echo "skipped: $*"; exit 77; }

# This process's memory cgroup directory: "v1 DIR" or "v2 DIR" (the v1 memory hierarchy first).
find_cgroup() {
  local version=$1 id controllers path mount_root mount_point
  while IFS=: read -r id controllers path; do
    if [ "$version" = v1 ]; then [[ ",$controllers," == *,memory,* ]] || continue
    else [ "$id" = 0 ] && [ -z "$controllers" ] || continue; fi
    read -r mount_root mount_point < <(awk -v want="$version" '{
        for (i = 1; i <= NF; i++) if ($i == "-") { type = $(i + 1); opts = "," $(i + 3) "," }
        if ((want == "v1" && type == "cgroup" && opts ~ /,memory,/) || (want == "v2" && type == "cgroup2")) { print $4, $5; exit }
      }' /proc/self/mountinfo)
    [ -n "${mount_point:-}" ] || continue
    [ "$mount_root" = / ] && echo "$version $mount_point$path" || echo "$version $mount_point${path#"$mount_root"}"
    return 0
  done </proc/self/cgroup
  return 1
}

[ "$(id -u)" = 0 ] || skip "making a cgroup needs root"
if found=$(find_cgroup v1); then :; elif found=$(find_cgroup v2); then :; else skip "no memory cgroup hierarchy is mounted"; fi
read -r version parent <<<"$found"
parent=${parent%/}
CG=$parent/mpimerge-test-$$
mkdir "$CG" 2>"$WORK/mkdir.err" || skip "cannot make a cgroup under $parent: $(cat "$WORK/mkdir.err")"
trap 'rmdir "$CG" 2>/dev/null; rm -rf "$WORK"' EXIT
if [ "$version" = v2 ] && [ ! -e "$CG/memory.max" ]; then
  echo +memory >"$parent/cgroup.subtree_control" 2>/dev/null || skip "the memory controller is not delegated to $parent"
fi
if [ "$version" = v1 ]; then
  echo "$LIMIT" >"$CG/memory.limit_in_bytes" || skip "cannot set $CG/memory.limit_in_bytes"
  [ ! -e "$CG/memory.memsw.limit_in_bytes" ] || echo "$LIMIT" >"$CG/memory.memsw.limit_in_bytes" || true
else
  echo "$LIMIT" >"$CG/memory.max" || skip "cannot set $CG/memory.max"
  [ ! -e "$CG/memory.swap.max" ] || echo 0 >"$CG/memory.swap.max" || true
fi

run 2 generate --output-dir "$WORK/set" --params 80M --models 2 --quiet
expect_status 0
inputs=(--base "$WORK/set/base.h5" --model "$WORK/set/ft-1.h5" --model "$WORK/set/ft-2.h5")
bytes=$(du -cb "$WORK"/set/*.h5 | tail -1 | cut -f1)
[ "$bytes" -gt "$LIMIT" ] || fail "the inputs ($bytes bytes) are not larger than the cgroup's limit"
oom_kills() { if [ "$version" = v1 ]; then awk '$1 == "oom_kill" {print $2}' "$CG/memory.oom_control"; else awk '$1 == "oom_kill" {print $2}' "$CG/memory.events"; fi; }
kills_before=$(oom_kills)

# The merge's mpirun (and so its ranks) starts inside the cgroup.
set +e
bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG" \
  timeout 300 mpirun -n 2 --oversubscribe "$MPIMERGE" merge "${inputs[@]}" --output "$WORK/confined.h5" --quiet \
  >"$WORK/out" 2>"$WORK/err"
STATUS=$?
set -e
ERR=$(cat "$WORK/err")
expect_status 0
# The kernel holds the cgroup to its limit: a merge that needs more is killed (exit 137, as the
# same merge with a node-sized --memory-budget is), so exit 0 and no OOM kill mean it fit.
[ "$(oom_kills)" = "$kills_before" ] || fail "the kernel killed a process of the cgroup for memory"
python3 - "$WORK/confined.h5.report.json" "$LIMIT" "$CG" <<'EOF' || fail "the report's memory section is not the cgroup's"
import json, sys
memory = json.load(open(sys.argv[1]))["memory"]
limit, cgroup = int(sys.argv[2]), sys.argv[3]
source = memory["budget_source"]
assert "cgroup" in source and cgroup in source, source
assert memory["groups"] > 1, memory  # streamed: the slices did not fit
# Each rank well under the limit (their sum may not be: each counts the libraries they share).
assert max(memory["peak_rss_per_rank"]) < limit * 3 // 5, memory
assert memory["budget_per_rank"] < limit // 2, memory
print("cgroup:", source, "| peak RSS per rank", memory["peak_rss_per_rank"], "| groups", memory["groups"])
EOF

run 2 merge "${inputs[@]}" --output "$WORK/free.h5" --quiet --no-report
expect_status 0
cmp "$WORK/confined.h5" "$WORK/free.h5" || fail "the merge inside the cgroup wrote other bytes"
echo "memory cgroup ($version, $((LIMIT >> 20)) MiB): ok"

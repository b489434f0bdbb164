#!/usr/bin/env bash
# verify: recomputes the checksums recorded at merge time (HDF5 attribute, or the report beside a
# Hugging Face directory) and fails, naming the tensor, once a byte of data has changed.
source "$(dirname "$0")/common.sh"
PY=/usr/bin/python3

run "$RANKS" generate --output-dir "$WORK/set" --params 2M --models 2 --vocab 501 --quiet
expect_status 0
inputs=(--base "$WORK/set/base.h5" --model "$WORK/set/ft-1.h5" --model "$WORK/set/ft-2.h5")

run "$RANKS" merge "${inputs[@]}" --output "$WORK/merged.h5" --quiet
expect_status 0
[ -f "$WORK/merged.h5.report.json" ] || fail "no report beside the output"
run "$RANKS" verify "$WORK/merged.h5"
expect_status 0; expect_out "match the checksums recorded in the file (ok)"

# Flip one byte inside the data of one tensor.
"$PY" - "$WORK/merged.h5" <<'PYEOF'
import sys, h5py
path = sys.argv[1]
with h5py.File(path, "r") as f:
    offset = f["model.norm.weight"].id.get_offset()
with open(path, "r+b") as f:
    f.seek(offset + 3)
    b = f.read(1)
    f.seek(offset + 3)
    f.write(bytes([b[0] ^ 0x40]))
PYEOF
run "$RANKS" verify "$WORK/merged.h5"
expect_status 1; expect_out "MISMATCH model.norm.weight"; expect_out "(FAILED)"

# A Hugging Face directory records its checksums in the report beside it.
run "$RANKS" merge "${inputs[@]}" --output "$WORK/merged-hf/" --output-format safetensors --quiet
expect_status 0
run "$RANKS" verify "$WORK/merged-hf"
expect_status 0; expect_out "merged-hf.report.json (ok)"
shard=$(ls "$WORK"/merged-hf/*.safetensors | tail -1)
size=$(stat -c %s "$shard")
printf '\x55' | dd of="$shard" bs=1 seek=$((size - 2)) conv=notrunc status=none
run "$RANKS" verify "$WORK/merged-hf"
expect_status 1; expect_out "MISMATCH"
echo "verify: ok at $RANKS ranks"

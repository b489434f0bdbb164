# An HDF5 model truncated while the merge reads it, in memory: it was read as zeros (exit 0).
# The fault hook truncates the file to half its size before rank 0's second read of it; every read
# checks the file against the size its header or catalog was checked against, on every rank.
# (The file lies outside $T: the harness would otherwise report it changed, as it was.)
V=$(mktemp -d /tmp/bad-input-victim-XXXXXX)
CLEANUP+=("rm -rf '$V'")
cp "$DATA/set/ft-1.h5" "$V/ft-1.h5"
export MPIMERGE_FAULT=truncate-input:2:0 MPIMERGE_FAULT_INPUT=$V/ft-1.h5
ARGS=(merge --base "$DATA/set/base.h5" --model "$V/ft-1.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("$V/ft-1.h5: the file shrank from " " bytes while it was read")

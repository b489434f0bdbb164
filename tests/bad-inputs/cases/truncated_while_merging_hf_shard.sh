# A shard of a Hugging Face model truncated while the merge reads it.
# The fault hook truncates the file to half its size before rank 0's second read of it; every read
# checks the file against the size its header or catalog was checked against, on every rank.
# (The file lies outside $T: the harness would otherwise report it changed, as it was.)
V=$(mktemp -d /tmp/bad-input-victim-XXXXXX)
CLEANUP+=("rm -rf '$V'")
cp -r "$DATA/hf/ft-1" "$V/ft-1"
shard=$V/ft-1/$(ls "$V/ft-1" | grep -m1 "model-00002-of")
export MPIMERGE_FAULT=truncate-input:2:0 MPIMERGE_FAULT_INPUT=$shard
ARGS=(merge --base "$DATA/hf/base" --model "$V/ft-1" --output "$OUTPUT")
STATUS=1
EXPECT=("$shard: the file shrank from " " bytes while it was read")

# A .safetensors model truncated while a streamed merge (a 1 MB budget) reads it.
# The fault hook truncates the file to half its size before rank 0's second read of it; every read
# checks the file against the size its header or catalog was checked against, on every rank.
# (The file lies outside $T: the harness would otherwise report it changed, as it was.)
V=$(mktemp -d /tmp/bad-input-victim-XXXXXX)
CLEANUP+=("rm -rf '$V'")
cp "$DATA/st/ft-1.safetensors" "$V/ft-1.safetensors"
export MPIMERGE_FAULT=truncate-input:2:0 MPIMERGE_FAULT_INPUT=$V/ft-1.safetensors
ARGS=(merge --base "$DATA/st/base.safetensors" --model "$V/ft-1.safetensors" --output "$OUTPUT" --memory-budget 1MB)
STATUS=1
EXPECT=("$V/ft-1.safetensors: the file shrank from " " bytes while it was read")

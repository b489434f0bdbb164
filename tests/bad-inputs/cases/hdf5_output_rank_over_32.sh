# A tensor of 33 dimensions (safetensors has no limit; HDF5 holds at most 32).
# An HDF5 output cannot hold it (it failed at write time with HDF5's own message): refused before
# the output is created, naming the tensor (docs/checkpoint-format.md). A .safetensors output can.
$CRAFT st "$T/base.safetensors" ok=2x2@1 'r=1^33'
$CRAFT st "$T/ft-1.safetensors" ok=2x2@2 'r=1^33'
ARGS=(merge --base "$T/base.safetensors" --model "$T/ft-1.safetensors" --output "$OUTPUT")
STATUS=1
EXPECT=("an HDF5 output cannot hold tensor 'r': 33 dimensions (HDF5 holds at most 32)")

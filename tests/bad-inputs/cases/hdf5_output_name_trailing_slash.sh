# A tensor named 't/': HDF5 would read it back as 't'.
# An HDF5 output cannot hold it (it failed at write time with HDF5's own message): refused before
# the output is created, naming the tensor (docs/checkpoint-format.md). A .safetensors output can.
$CRAFT st "$T/base.safetensors" ok=2x2@1 't/=3'
$CRAFT st "$T/ft-1.safetensors" ok=2x2@2 't/=3'
ARGS=(merge --base "$T/base.safetensors" --model "$T/ft-1.safetensors" --output "$OUTPUT")
STATUS=1
EXPECT=("an HDF5 output cannot hold tensor 't/': a leading, trailing or doubled '/'")

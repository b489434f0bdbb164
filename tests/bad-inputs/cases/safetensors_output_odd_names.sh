# The names and the shape an HDF5 output refuses (hdf5_output_*) go to a .safetensors output as
# they are.
names=(/abs.weight=3 t/=3 a//b=3 .=3 p=3 p/q=3 r=1^33)
$CRAFT st "$T/base.safetensors" ok=2x2@1 "${names[@]}"
$CRAFT st "$T/ft-1.safetensors" ok=2x2@2 "${names[@]}"
OUTPUT=$T/out.safetensors
ARGS=(merge --base "$T/base.safetensors" --model "$T/ft-1.safetensors" --output "$OUTPUT")
STATUS=0
check_after() {
  local listed
  listed=$(timeout 60 mpirun -n 1 "$MPIMERGE" inspect "$OUTPUT" --totals | grep -c 'total: 8 tensors') || true
  [ "$listed" = 1 ] || fail "the output does not hold the 8 tensors"
}

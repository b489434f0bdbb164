# Zero-sized tensors ([5, 0], [0, 4]) beside a 0-d and a plain one, in HDF5 in and out (it failed
# with "unable to get iterator block a" on the MPI_Abort path). The merge is the one of the same
# tensors as .safetensors, and keeps the empty shapes.
for m in base:1 ft-1:2; do
  $CRAFT st "$T/${m%:*}.safetensors" w=4x3@${m#*:} z=5x0 e=0x4 s=@${m#*:}7
  prepare convert "$T/${m%:*}.safetensors" "$T/${m%:*}.h5"
done
prepare merge --base "$T/base.safetensors" --model "$T/ft-1.safetensors" --output "$T/reference.safetensors" --no-report
ARGS=(merge --base "$T/base.h5" --model "$T/ft-1.h5" --output "$OUTPUT")
STATUS=0
check_after() {
  same_tensors "$OUTPUT" "$T/reference.safetensors"
  timeout 60 mpirun -n 1 "$MPIMERGE" inspect "$OUTPUT" | grep -q '^  z  *F32  *\[5, 0\]  *0$' || fail "no [5, 0] tensor z in the output"
}

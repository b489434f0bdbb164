# Zero-sized tensors ([5, 0], [0, 4]) in .safetensors in, HDF5 out (the HDF5 writer failed on them).
for m in base:1 ft-1:2; do $CRAFT st "$T/${m%:*}.safetensors" w=4x3@${m#*:} z=5x0 e=0x4 s=@${m#*:}7; done
prepare merge --base "$T/base.safetensors" --model "$T/ft-1.safetensors" --output "$T/reference.safetensors" --no-report
ARGS=(merge --base "$T/base.safetensors" --model "$T/ft-1.safetensors" --output "$OUTPUT")
STATUS=0
check_after() {
  same_tensors "$OUTPUT" "$T/reference.safetensors"
  timeout 60 mpirun -n 1 "$MPIMERGE" inspect "$OUTPUT" | grep -q '^  e  *F32  *\[0, 4\]  *0$' || fail "no [0, 4] tensor e in the output"
}

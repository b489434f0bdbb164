# Zero-sized tensors ([5, 0], [0, 4]) in Hugging Face directories in and out.
for m in base:1 ft-1:2; do
  $CRAFT st "$T/${m%:*}.safetensors" w=4x3@${m#*:} z=5x0 e=0x4 s=@${m#*:}7
  prepare convert "$T/${m%:*}.safetensors" "$T/${m%:*}/"
done
prepare merge --base "$T/base.safetensors" --model "$T/ft-1.safetensors" --output "$T/reference.safetensors" --no-report
OUTPUT=$T/out
ARGS=(merge --base "$T/base" --model "$T/ft-1" --output "$OUTPUT")
STATUS=0
check_after() {
  same_tensors "$OUTPUT" "$T/reference.safetensors"
  timeout 60 mpirun -n 1 "$MPIMERGE" inspect "$OUTPUT" | grep -q '^  z  *F32  *\[5, 0\]  *0$' || fail "no [5, 0] tensor z in the output"
}

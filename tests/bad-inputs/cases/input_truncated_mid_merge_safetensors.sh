# As input_truncated_mid_merge, with a .safetensors model.
cp "$DATA/st/ft-1.safetensors" "$T/ft-1.safetensors"
export MPIMERGE_FAULT="analysis:0:0:run:truncate -s 1000000 '$T/ft-1.safetensors'"
ARGS=(merge --base "$DATA/st/base.safetensors" --model "$T/ft-1.safetensors" --output "$OUTPUT")
STATUS=1
EXPECT=("model 1 '$T/ft-1.safetensors' changed while the merge read it (its size went from" "to 1000000 bytes)")
CHANGED=("$T/ft-1.safetensors")  # the fault hook's doing

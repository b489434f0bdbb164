# --overwrite over a directory mpimerge did not write (a user's notes and another model): refused
# with one line that says what is there, and nothing in it touched (it was deleted recursively).
OUTPUT=$T/merged/
mkdir -p "$T/merged/other-model"
echo "my notes" >"$T/merged/notes.txt"
cp "$DATA/st/ft-1.safetensors" "$T/merged/other-model/model.safetensors"
KEEP_OUTPUT=1
ARGS=(merge --base "$DATA/hf/base" --model "$DATA/hf/ft-1" --output "$OUTPUT" --overwrite)
STATUS=2
EXPECT=("output '$T/merged/' is not one mpimerge wrote, so --overwrite leaves it alone: it is a directory holding notes.txt, other-model/, and no manifest of mpimerge's beside it")

# A side input (a Fisher file) touched while the merge runs: pinned like the models, exit 1.
cp "$DATA/set/fisher-2.h5" "$T/fisher-2.h5"
export MPIMERGE_FAULT="commit:0:0:run:touch '$T/fisher-2.h5'"
ARGS=(merge --method fisher --model "$DATA/set/ft-1.h5" --model "$DATA/set/ft-2.h5"
      --fisher "$DATA/set/fisher-1.h5" --fisher "$T/fisher-2.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("fisher 2 '$T/fisher-2.h5' changed while the merge read it (it was modified)")
CHANGED=("$T/fisher-2.h5")  # the fault hook's doing

# Tensors missing in some models: every one listed, with the model that lacks it.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"; cp "$DATA/set/ft-2.h5" "$T/ft-2.h5"
$EDIT h5-drop "$T/ft-1.h5" model.norm.weight
$EDIT h5-drop "$T/ft-2.h5" lm_head.weight
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --model "$T/ft-2.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("2 problems" "model 1 ($T/ft-1.h5) lacks tensor 'model.norm.weight'" "model 2 ($T/ft-2.h5) lacks tensor 'lm_head.weight'")

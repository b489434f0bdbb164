# Shape and dtype mismatches in two models: all of them listed, not just the first.
cp "$DATA/set/ft-1.h5" "$T/ft-1.h5"; cp "$DATA/set/ft-2.h5" "$T/ft-2.h5"
$EDIT h5-reshape "$T/ft-1.h5" model.norm.weight
$EDIT h5-reshape "$T/ft-2.h5" lm_head.weight
$EDIT h5-retype "$T/ft-2.h5" model.layers.0.mlp.up_proj.weight
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/ft-1.h5" --model "$T/ft-2.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("3 problems" "tensor 'model.norm.weight' has shape" "in model 1 ($T/ft-1.h5)"
        "tensor 'lm_head.weight' has shape" "in model 2 ($T/ft-2.h5)"
        "tensor 'model.layers.0.mlp.up_proj.weight' is I32 in model 2 ($T/ft-2.h5) but BF16 in base")

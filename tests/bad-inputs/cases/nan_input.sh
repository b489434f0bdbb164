# A NaN in a model: refused by default, naming the file and the tensor.
cp "$DATA/set/ft-2.h5" "$T/ft-2.h5"
$EDIT h5-poke "$T/ft-2.h5" model.layers.1.self_attn.k_proj.weight nan
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --model "$T/ft-2.h5" --output "$OUTPUT")
STATUS=1
EXPECT=("model 2 ($T/ft-2.h5): tensor 'model.layers.1.self_attn.k_proj.weight' holds NaN or infinite values" "--allow-nonfinite")

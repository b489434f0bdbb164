# --allow-nonfinite merges a NaN anyway (it propagates into the merged tensor).
cp "$DATA/set/ft-2.h5" "$T/ft-2.h5"
$EDIT h5-poke "$T/ft-2.h5" model.layers.1.self_attn.k_proj.weight nan
ARGS=(merge --method task_arithmetic --allow-nonfinite --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5"
      --model "$T/ft-2.h5" --output "$OUTPUT" --quiet)
STATUS=0
check_after() {
  /usr/bin/python3 -c 'import sys, h5py, numpy as np
name = "model.layers.1.self_attn.k_proj.weight"
out, bad = h5py.File(sys.argv[1], "r")[name][...], h5py.File(sys.argv[2], "r")[name][...]
assert np.isnan(bad).sum() == 1 and (np.isnan(out) == np.isnan(bad)).all() and np.isfinite(out[~np.isnan(out)]).all()' \
    "$OUTPUT" "$T/ft-2.h5" || fail "--allow-nonfinite: the merged tensor is not NaN exactly where the input was"
}

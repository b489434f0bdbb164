# --allow-nonfinite writes what --lambda 1e39 gives (infinities) as asked.
ARGS=(merge --method task_arithmetic --lambda 1e39 --allow-nonfinite --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5"
      --output "$OUTPUT" --quiet)
STATUS=0
check_after() {
  /usr/bin/python3 -c 'import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert all((~np.isfinite(f[n][...].astype(np.float32))).any() for n in f), "a tensor is all finite"' "$OUTPUT" ||
    fail "--allow-nonfinite: the output is not the overflowed merge"
}

# A model without read permission (chmod 000). Root reads any file (CAP_DAC_OVERRIDE and
# CAP_DAC_READ_SEARCH), so mpirun and its ranks run without those two capabilities.
cp "$DATA/set/ft-1.h5" "$T/locked.h5"
chmod 000 "$T/locked.h5"
if [ "$(id -u)" = 0 ]; then
  RUNNER=(setpriv --inh-caps=-dac_override,-dac_read_search --bounding-set=-dac_override,-dac_read_search)
  "${RUNNER[@]}" cat "$T/locked.h5" >/dev/null 2>&1 && skip "cannot drop CAP_DAC_OVERRIDE here: root reads the chmod 000 file"
  "${RUNNER[@]}" true 2>/dev/null || skip "setpriv cannot drop capabilities here"
fi
ARGS=(merge --base "$DATA/set/base.h5" --model "$T/locked.h5" --output "$OUTPUT")
STATUS=2
EXPECT=("model 1 '$T/locked.h5' cannot be read")

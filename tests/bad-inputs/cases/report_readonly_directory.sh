# The report's directory cannot be written (chmod 555; as root the ranks run without
# CAP_DAC_OVERRIDE): refused before the merge, not after the output is in place (issue 14, #11).
mkdir "$T/reports"
chmod 555 "$T/reports"
CLEANUP+=("chmod 755 '$T/reports'")
REPORT=$T/reports/out.json
if [ "$(id -u)" = 0 ]; then
  RUNNER=(setpriv --inh-caps=-dac_override,-dac_read_search --bounding-set=-dac_override,-dac_read_search)
  "${RUNNER[@]}" touch "$T/reports/probe" 2>/dev/null && skip "cannot drop CAP_DAC_OVERRIDE here: root writes the chmod 555 directory"
fi
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --report "$REPORT")
STATUS=2
EXPECT=("report directory '$T/reports' cannot be written: Permission denied")

# The report's file system is full: the report is written before the output's rename, so the merge
# fails (exit 1) and leaves neither output nor report (the output was in place, the report cut short).
mkdir "$T/disk"
mount -t tmpfs -o size=64k tmpfs "$T/disk" 2>"$T/mount.err" || skip "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): $(cat "$T/mount.err")"
CLEANUP+=("umount '$T/disk' 2>/dev/null || umount -l '$T/disk'")
rm -f "$T/mount.err"
head -c 1M /dev/zero >"$T/disk/filler" 2>/dev/null || true  # fills it
REPORT=$T/disk/out.json
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --output "$OUTPUT" --report "$REPORT")
STATUS=1
EXPECT=("cannot write the report $T/disk/out.json.partial: No space left on device")
check_after() { [ ! -e "$REPORT" ] && [ ! -e "$REPORT.partial" ] || fail "a report was left: $(ls "$T/disk")"; }

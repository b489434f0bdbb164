# The output's file system fills up during the write (a 2 MiB tmpfs for a 4 MB output): one
# clean error, exit 1, no hang, nothing left at the output path and no temporary files.
mkdir "$T/disk"
mount -t tmpfs -o size=2m tmpfs "$T/disk" 2>"$T/mount.err" || skip "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): $(cat "$T/mount.err")"
CLEANUP+=("umount '$T/disk' 2>/dev/null || umount -l '$T/disk'")
rm -f "$T/mount.err"
OUTPUT=$T/disk/out.h5
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --out-dtype float32 --output "$OUTPUT")
STATUS=1
EXPECT=("$T/disk/out.h5.partial" "No space left on device")

# As full_disk, writing a Hugging Face directory.
mkdir "$T/disk"
mount -t tmpfs -o size=2m tmpfs "$T/disk" 2>"$T/mount.err" || skip "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): $(cat "$T/mount.err")"
CLEANUP+=("umount '$T/disk' 2>/dev/null || umount -l '$T/disk'")
rm -f "$T/mount.err"
OUTPUT=$T/disk/out/
ARGS=(merge --base "$DATA/hf/base" --model "$DATA/hf/ft-1" --out-dtype float32 --output "$OUTPUT" --shard-size 1MB)
STATUS=1
EXPECT=("$T/disk/out.partial" "No space left on device")

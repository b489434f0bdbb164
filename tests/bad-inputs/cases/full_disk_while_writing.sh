# As full_disk, with the up-front space reservation turned off (a file system without fallocate):
# the disk fills up during the collective writes; the error is agreed on by every rank right
# after the failed call, the partial output and journal removed.
mkdir "$T/disk"
mount -t tmpfs -o size=2m tmpfs "$T/disk" 2>"$T/mount.err" || skip "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): $(cat "$T/mount.err")"
CLEANUP+=("umount '$T/disk' 2>/dev/null || umount -l '$T/disk'")
rm -f "$T/mount.err"
# Open MPI 4.1's OMPIO does not report a failed (p)writev inside a two-phase collective write to
# every rank: at 3 ranks the merge was seen to end with exit 0 and a short file (HDF5) or to hang
# (MPI-IO). That is why the writers reserve the output's space first (full_disk tests that path).
[ "$RANKS" = 1 ] || skip "OMPIO loses write errors of collective writes across ranks; covered at 1 rank, and by full_disk"
export MPIMERGE_NO_SPACE_RESERVATION=1
OUTPUT=$T/disk/out.h5
ARGS=(merge --base "$DATA/set/base.h5" --model "$DATA/set/ft-1.h5" --out-dtype float32 --output "$OUTPUT")
STATUS=1
EXPECT=("$T/disk/out.h5.partial: cannot write tensor '" "No space left on device")

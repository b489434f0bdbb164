# mpimerge diff given a FIFO: it blocked forever; refused before anything opens it.
mkfifo "$T/model.safetensors"
ARGS=(diff "$T/model.safetensors" "$DATA/st/base.safetensors")
STATUS=1
EXPECT=("$T/model.safetensors: a FIFO (named pipe), not a regular file")

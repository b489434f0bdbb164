# mpimerge convert given a FIFO: it blocked forever; refused before anything opens it.
mkfifo "$T/model.safetensors"
ARGS=(convert "$T/model.safetensors" "$OUTPUT")
STATUS=1
EXPECT=("$T/model.safetensors: a FIFO (named pipe), not a regular file")

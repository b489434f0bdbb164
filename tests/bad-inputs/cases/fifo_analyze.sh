# mpimerge analyze given a FIFO: it blocked forever; refused before anything opens it.
mkfifo "$T/model.safetensors"
ARGS=(analyze --base "$DATA/st/base.safetensors" --model "$T/model.safetensors" --output-prefix "$T/stats")
STATUS=1
EXPECT=("$T/model.safetensors: a FIFO (named pipe), not a regular file")

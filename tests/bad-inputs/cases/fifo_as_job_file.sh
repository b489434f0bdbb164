# A FIFO given as the job file (--config) blocked rank 0's read forever: refused before it is opened.
mkfifo "$T/job.yaml"
ARGS=(merge --config "$T/job.yaml" --output "$OUTPUT")
STATUS=2
EXPECT=("job file '$T/job.yaml' is not a regular file (a FIFO, a device or a socket): give a file")

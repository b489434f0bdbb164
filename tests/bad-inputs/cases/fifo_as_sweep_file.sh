# A FIFO given as the sweep file blocked every rank's read forever: refused before it is opened.
mkfifo "$T/grid.yaml"
OUTPUT=$T/sweep-out
ARGS=(sweep --config "$T/grid.yaml")
STATUS=2
EXPECT=("sweep file '$T/grid.yaml' is not a regular file (a FIFO, a device or a socket): give a file")

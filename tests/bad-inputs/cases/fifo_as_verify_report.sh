# verify reading its checksums from a report that is a FIFO (the file records none): refused
# before it is opened.
mkfifo "$T/report.json"
ARGS=(verify "$DATA/st/ft-1.safetensors" --report "$T/report.json")
STATUS=1
EXPECT=("$T/report.json: a FIFO (named pipe), not a regular file")

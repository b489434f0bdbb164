#!/usr/bin/python3
"""Breaks checkpoints on purpose, for the bad-input cases. Debian's python3 with h5py and numpy.

  edit.py h5-poke FILE TENSOR nan|inf     element 0 of TENSOR becomes NaN or +inf (raw bytes, any float dtype)
  edit.py h5-drop FILE TENSOR             deletes TENSOR
  edit.py h5-reshape FILE TENSOR          TENSOR gets one more row (float32)
  edit.py h5-retype FILE TENSOR           TENSOR becomes int32 of the same shape
  edit.py st-json FILE TEXT               the safetensors header becomes TEXT (length fixed up, data kept)
  edit.py st-offsets FILE TENSOR B E      TENSOR's data_offsets become [B, E]
  edit.py st-poke FILE TENSOR nan|inf     element 0 of TENSOR (F32/BF16/F16) becomes NaN or +inf
"""
import json
import struct
import sys

import h5py
import numpy as np

NAN = {1: None, 2: {"nan": b"\xc0\x7f", "inf": b"\x80\x7f"}, 4: {"nan": b"\x00\x00\xc0\x7f", "inf": b"\x00\x00\x80\x7f"},
       8: {"nan": b"\x00" * 6 + b"\xf8\x7f", "inf": b"\x00" * 6 + b"\xf0\x7f"}}
F16 = {"nan": b"\x00\x7e", "inf": b"\x00\x7c"}


def poke(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def h5_poke(path, name, what):
    with h5py.File(path, "r") as f:
        d = f[name]
        offset, size, kind = d.id.get_offset(), d.dtype.itemsize, d.id.get_type()
        # float16 has its own bit pattern; bfloat16 (2 bytes, 8-bit exponent) the bfloat one
        is_f16 = size == 2 and kind.get_fields()[2] == 5
    poke(path, offset, F16[what] if is_f16 else NAN[size][what])


def h5_replace(path, name, make):
    with h5py.File(path, "r+") as f:
        old = f[name][...].astype(np.float32)
        del f[name]
        f.create_dataset(name, data=make(old))


def st_read(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def st_write(path, header_text, body):
    h = header_text.encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + body)


def main(cmd, path, *args):
    if cmd == "h5-poke":
        h5_poke(path, args[0], args[1])
    elif cmd == "h5-drop":
        with h5py.File(path, "r+") as f:
            del f[args[0]]
    elif cmd == "h5-reshape":
        h5_replace(path, args[0], lambda a: np.concatenate([a, a[:1]]))
    elif cmd == "h5-retype":
        h5_replace(path, args[0], lambda a: np.zeros(a.shape, np.int32))
    elif cmd == "st-json":
        _, body = st_read(path)
        st_write(path, args[0], body)
    elif cmd == "st-offsets":
        header, body = st_read(path)
        header[args[0]]["data_offsets"] = [int(args[1]), int(args[2])]
        st_write(path, json.dumps(header), body)
    elif cmd == "st-poke":
        header, body = st_read(path)
        e = header[args[0]]
        value = {"F32": NAN[4], "BF16": NAN[2], "F16": F16}[e["dtype"]][args[1]]
        body = bytearray(body)
        body[e["data_offsets"][0]:e["data_offsets"][0] + len(value)] = value
        st_write(path, json.dumps(header), bytes(body))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(*sys.argv[1:])

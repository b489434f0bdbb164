#!/usr/bin/python3
"""Crafts hostile and unusual checkpoints for the bad-input cases (Debian's python3, h5py, numpy).

HDF5 (FILE is changed in place; TENSOR keeps its bytes and its attributes unless said otherwise):
  craft.py attr FILE TENSOR KIND           an mpimerge attribute of another shape or class. KIND:
      order-array3 order-array8000 order-string order-float: mpimerge_order as 3 or 8000 int64, text, a float
      checksum-strings4000 checksum-nonhex checksum-int: mpimerge_checksum as 4000 strings, 16 non-hex
      characters, an integer
  craft.py layout FILE TENSOR KIND         TENSOR ('*': every tensor) rewritten with another storage. KIND:
      lzf (h5py's LZF filter, absent from plain libhdf5), gzip, chunked, compact, bigendian,
      external (its bytes in FILE.raw), virtual (a view of FILE.source.h5)
  craft.py flip-address FILE TENSOR        sets bit 40 of TENSOR's data address (a bit flip on disk)
  craft.py rank FILE TENSOR N              TENSOR's dataspace claims N dimensions (N > 32: impossible)
  craft.py userblock SRC DST               DST = SRC with a 512-byte user block before the HDF5 data
safetensors:
  craft.py st FILE NAME=SHAPE[@SEED] ...   a .safetensors file of float32 tensors, NAME with any
      characters, SHAPE like 5x0 or 1^33 (33 ones) or empty (0-d), values from SEED (default 0)
"""
import json
import struct
import sys

import h5py
import numpy as np


def raw_of(d):
    """The dataset's bytes in its own file type, and that type."""
    ftype = d.id.get_type()
    raw = np.empty(d.shape, dtype="V%d" % ftype.get_size())
    if raw.size:
        d.id.read(h5py.h5s.ALL, h5py.h5s.ALL, raw, mtype=ftype)
    return raw, ftype


def attr(path, name, kind):
    with h5py.File(path, "r+") as f:
        a = f[name].attrs
        key = "mpimerge_order" if kind.startswith("order") else "mpimerge_checksum"
        if key in a:
            del a[key]
        values = {
            "order-array3": lambda: np.array([0, 1, 2], np.int64),
            "order-array8000": lambda: np.zeros(8000, np.int64),
            "order-string": lambda: np.bytes_(b"zero"),
            "order-float": lambda: np.float64(1.5),
            "checksum-strings4000": lambda: np.array([b"0123456789abcdef"] * 4000, dtype="S16"),
            "checksum-nonhex": lambda: np.bytes_(b"z" * 16),
            "checksum-int": lambda: np.int64(7),
        }
        a.create(key, values[kind]())


def layout(path, name, kind):
    if name == "*":
        with h5py.File(path, "r") as f:
            names = list(f)
        for n in names:
            layout(path, n, kind)
        return
    with h5py.File(path, "r+") as f:
        d = f[name]
        raw, ftype = raw_of(d)
        attrs = {k: d.attrs[k] for k in d.attrs}
        del f[name]
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        space = h5py.h5s.create_simple(raw.shape)
        filetype = ftype
        if kind in ("lzf", "gzip", "chunked"):
            dcpl.set_chunk(tuple(max(1, n // 2) for n in raw.shape))
            if kind == "lzf":
                dcpl.set_filter(h5py.h5z.FILTER_LZF, h5py.h5z.FLAG_OPTIONAL)
            elif kind == "gzip":
                dcpl.set_deflate(4)
        elif kind == "compact":
            dcpl.set_layout(h5py.h5d.COMPACT)
        elif kind == "bigendian":
            filetype = ftype.copy()
            filetype.set_order(h5py.h5t.ORDER_BE)
        elif kind == "external":
            dcpl.set_external((path + ".raw").encode(), 0, raw.nbytes)
        elif kind == "virtual":
            with h5py.File(path + ".source.h5", "w") as s:
                src = h5py.h5d.create(s.id, b"source", ftype, h5py.h5s.create_simple(raw.shape))
                src.write(h5py.h5s.ALL, h5py.h5s.ALL, raw, mtype=ftype)
            dcpl.set_virtual(space, (path + ".source.h5").encode(), b"source", h5py.h5s.create_simple(raw.shape))
        else:
            sys.exit("unknown layout " + kind)
        new = h5py.h5d.create(f.id, name.encode(), filetype, space, dcpl=dcpl)
        if kind != "virtual":
            new.write(h5py.h5s.ALL, h5py.h5s.ALL, raw, mtype=ftype)
        for k, v in attrs.items():
            f[name].attrs.create(k, v)


def flip_address(path, name):
    with h5py.File(path, "r") as f:
        offset = f[name].id.get_offset()
    data = bytearray(open(path, "rb").read())
    needle = struct.pack("<Q", offset)
    at = data.find(needle)
    if at < 0 or at >= offset or data.find(needle, at + 1, offset) >= 0:
        sys.exit("the data address of %s is not stored exactly once before its data" % name)
    data[at + 5] ^= 0x01  # bit 40: an address a terabyte further on
    open(path, "wb").write(bytes(data))


def rank(path, name, n):
    """Rewrites the rank byte of TENSOR's dataspace message (version 1: 01 RANK FLAGS 00 00000000 dims),
    the first such message after the start of TENSOR's object header."""
    with h5py.File(path, "r") as f:
        shape = f[name].shape
        header = h5py.h5o.get_info(f[name].id).addr
    data = bytearray(open(path, "rb").read())
    head = bytes([1, len(shape)])
    dims = b"".join(struct.pack("<Q", s) for s in shape)
    at = header
    while not (data.startswith(head, at) and data.startswith(dims, at + 8)):
        at += 1
        if at > header + 512:
            sys.exit("no dataspace message of shape %s in the object header of %s" % (shape, name))
    data[at + 1] = int(n)
    open(path, "wb").write(bytes(data))


def userblock(src, dst):
    with h5py.File(src, "r") as s, h5py.File(dst, "w", userblock_size=512, track_order=True) as d:
        for name in s:
            s.copy(s[name], d, name)


def st(path, *specs):
    header, body = {}, b""
    for spec in specs:
        name, rest = spec.rsplit("=", 1)
        shape_text, _, seed = rest.partition("@")
        if shape_text == "":
            shape = []
        elif "^" in shape_text:
            n, times = shape_text.split("^")
            shape = [int(n)] * int(times)
        else:
            shape = [int(x) for x in shape_text.split("x")]
        values = np.random.default_rng(int(seed or 0)).standard_normal(int(np.prod(shape))).astype("<f4")
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(body), len(body) + values.nbytes]}
        body += values.tobytes()
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + body)


def main(cmd, *args):
    {"attr": attr, "layout": layout, "flip-address": flip_address, "rank": rank, "userblock": userblock, "st": st}[cmd](*args)


if __name__ == "__main__":
    main(*sys.argv[1:])

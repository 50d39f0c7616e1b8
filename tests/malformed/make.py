#!/usr/bin/python3
"""Writes the malformed streams in this folder.  Every program that reads a
stream must reject each of them with exit status 1 and a message that names
the input; tests/malformed.t runs them.  Re-run to regenerate (the files are
committed so the tests need no Python)."""
import struct
import subprocess

import msgpack

def hdr(fields, **extra):
    h = {"sluice": 1, "fields": fields, "lineage": []}
    h.update(extra)
    return msgpack.packb(h)

F = [["id", "int"], ["name", "str"], ["x", "float"], ["v", "f32[2]"]]
good = hdr(F) + msgpack.packb([1, "a", 0.5, struct.pack("<2f", 1, 2)])

files = {
    "empty.bin": b"",
    "garbage.bin": b"this is not a stream\n",
    "csv-text.bin": b"id,name\n1,a\n",
    "truncated-header.bin": hdr(F)[:-3],
    "truncated-record.bin": good[:-5],
    "record-first.bin": msgpack.packb([1, "a", 0.5, None]),
    "not-sluice-map.bin": msgpack.packb({"hello": 1}),
    "future-version.bin": msgpack.packb({"sluice": 99, "fields": []}),
    "bad-type-name.bin": hdr([["a", "integer"]]),
    "duplicate-field.bin": hdr([["a", "int"], ["a", "str"]]),
    "control-in-name.bin": hdr([["a\nb", "int"]]),
    "repeated-fields-key.bin": b"\x83\xa6sluice\x01\xa6fields\x90\xa6fields\x90",
    "wrong-type.bin": hdr(F) + msgpack.packb([1, 2, 0.5, None]),
    "wrong-count.bin": hdr(F) + msgpack.packb([1, "a"]),
    "invalid-utf8.bin": hdr(F) + b"\x94\x01\xa2\xc3\x28\xcb" + struct.pack(">d", 1.0) + b"\xc0",
    "huge-str32.bin": hdr(F) + b"\x94\x01\xdb\xff\xff\xff\xff" + b"abc",
    "huge-array32.bin": hdr(F) + b"\xdd\xff\xff\xff\xf0\x01",
    "huge-header-map.bin": b"\xdf\x7f\xff\xff\xff\xa6sluice\x01",
    "bad-vector-length.bin": hdr(F) + msgpack.packb([1, "a", 0.5, b"\0\0\0"]),
    "nested-record.bin": hdr(F) + msgpack.packb([1, "a", [0.5], None]),
    "uint64-overflow.bin": hdr(F) + b"\x94\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xa1a\xc0\xc0",
    "reserved-byte.bin": good + b"\xc1",
}
z = subprocess.run(["zstd", "-q", "-c"], input=good * 50, stdout=subprocess.PIPE, check=True).stdout
files["truncated-zstd.bin"] = z[:-6]
for name, data in files.items():
    with open(name, "wb") as f:
        f.write(data)

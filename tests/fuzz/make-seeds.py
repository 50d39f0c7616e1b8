#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/seed-*/): a few
small valid inputs that reach every branch the fuzzer should start from.
The files are committed; re-run from this folder to regenerate."""
import struct
import subprocess

import msgpack

def pack(*objs):
    return b"".join(msgpack.packb(o) for o in objs)

def hdr(fields, **extra):
    h = {"sluice": 1, "fields": fields}
    h.update(extra)
    h["lineage"] = [{"program": "make-seeds.py", "version": "1", "args": []}]
    return h

ALL = [["b", "bool"], ["i", "int"], ["f", "float"], ["s", "str"], ["x", "bin"],
       ["v", "f32[3]"], ["w", "i32[]"], ["u8", "u8[]"], ["i8", "i8[2]"],
       ["u16", "u16[]"], ["i16", "i16[]"], ["u32", "u32[1]"], ["u64", "u64[]"],
       ["i64", "i64[]"], ["d", "f64[]"]]

def rec(k):
    return [k % 2 == 0, -33 * k, k / 3, "h\u00e9llo \U0001F600"[:k + 1], bytes(range(k)),
            struct.pack("<3f", k, -0.5, 1e30), struct.pack("<2i", -k, 1 << 30),
            b"\x00\xff", struct.pack("<2b", -128, 127), struct.pack("<H", 65535),
            struct.pack("<h", -2), struct.pack("<I", 7), struct.pack("<Q", 1 << 63),
            struct.pack("<q", -1), struct.pack("<2d", float("nan"), -0.0)]

every_type = pack(hdr(ALL, note="seed", shape=[2, {"k": 1.5}]), rec(0), rec(1),
                  [None] * len(ALL))
# Encodings other writers use: float32 and integers in float fields, str8/16,
# bin16, array16, int64 / uint64 boundaries.
other = (msgpack.packb(hdr([["f", "float"], ["i", "int"], ["s", "str"], ["x", "bin"]]))
         + b"\x94\xca" + struct.pack(">f", 1.5) + b"\xcf" + struct.pack(">Q", 2**63 - 1)
         + b"\xd9\x01a\xc5\x00\x01z"
         + b"\xdc\x00\x04\x05\xd3" + struct.pack(">q", -2**63) + b"\xda\x00\x00\xc0")
segments = pack(hdr([["a", "int"]]), [1], [None],
                hdr([["t", "str"], ["u", "u8[]"]], split="train"), ["x", b"\x01"])
empty = pack(hdr([]), [], [])
nested = pack(hdr([["n", "int"]], params={"lr": 0.001, "layers": [[1, 2], [3, 4]],
                                            "on": True, "none": None}), [0])
plain = every_type + segments
zstd = subprocess.run(["zstd", "-q", "-c", "-3"], input=plain,
                      stdout=subprocess.PIPE, check=True).stdout

for name, data in {"every-type.sl": every_type, "other-encodings.sl": other,
                   "segments.sl": segments, "no-fields.sl": empty,
                   "nested-meta.sl": nested, "zstd.sl.zst": zstd}.items():
    with open("seed-reader/" + name, "wb") as f:
        f.write(data)

numbers = ["0", "-0.0", "1.5", "0.1", "1e22", "1e-7", "123456.789", "-9223372036854775808",
           "9223372036854775807", "4.9e-324", "1.7976931348623157e308", "2.", ".5",
           "NaN", "-Infinity", "12345678901234567890", "0.30000000000000004",
           "h\u00e9llo \U0001F600", "\xff\xfe", struct.pack("<d", 0.1).decode("latin-1")]
for k, s in enumerate(numbers):
    with open("seed-numbers/%02d" % k, "wb") as f:
        f.write(s.encode("utf-8") if k < 18 else s.encode("latin-1"))

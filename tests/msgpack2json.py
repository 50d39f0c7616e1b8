#!/usr/bin/python3
"""Prints a sluice stream as JSON, one line per object, for tests that must
not depend on sluice-cat: a header as {"header": {...}} with its lineage
left out (it holds the test's temporary paths) unless --lineage is given,
a record as a JSON array.  str values are JSON strings, bin and vectors are
{"bin": "<hex>"}, floats keep Python's repr (NaN and Infinity spelled as
Python's json module spells them).

usage: msgpack2json.py [--lineage] [FILE]     (FILE defaults to stdin)
"""
import json
import signal
import sys

import msgpack


def plain(v):
    if isinstance(v, bytes):
        return {"bin": v.hex()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = sys.argv[1:]
    lineage = "--lineage" in args
    args = [a for a in args if a != "--lineage"]
    f = open(args[0], "rb") if args else sys.stdin.buffer
    out = sys.stdout
    for obj in msgpack.Unpacker(f, raw=False, strict_map_key=False):
        if isinstance(obj, dict):
            if not lineage:
                obj.pop("lineage", None)
            out.write(json.dumps({"header": plain(obj)}, ensure_ascii=False) + "\n")
        else:
            out.write(json.dumps(plain(obj), ensure_ascii=False) + "\n")


main()

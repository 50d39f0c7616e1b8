#!/bin/sh
# sluice-dedup: exact (whole record, key fields, folding), near duplicates
# on a generated corpus with planted near-duplicates (recall and precision
# computed independently in Python), the report stream, bad input.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

cat > "$T/mk.py" <<'PYEOF'
import msgpack, sys
rows = [(1, "Hello World", 1.5), (2, "hello   world", 1.5), (3, "Hello World", 1.5),
        (4, "Hello World", 2.5), (5, "Cafe\u0301", None), (6, "caf\u00e9", None), (7, "CAF\u00c9", None)]
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["id", "int"], ["s", "str"], ["x", "float"]], "lineage": []}))
    for r in rows:
        f.write(msgpack.packb(list(r)))
    f.write(msgpack.packb([3, "Hello World", 1.5]))  # an exact copy of record 3
PYEOF
$PY "$T/mk.py" "$T/in.sl"
ids() { $PY -c 'import msgpack,sys; print(" ".join(str(r[0]) for r in list(msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False))[1:]))' "$1"; }

run sluice-dedup -o "$T/a.sl" "$T/in.sl"
ok_rc "exact dedup runs" 0
is "whole-record duplicates: the later copy goes" "$(ids "$T/a.sl")" "1 2 3 4 5 6 7"
is "counts on stderr" "$(cat "$T/err")" \
	"sluice-dedup: 8 records, 7 kept, 1 exact duplicates, 0 near duplicates removed"
run sluice-dedup --key s -o "$T/b.sl" "$T/in.sl"
is "by key: first of each key kept" "$(ids "$T/b.sl")" "1 2 5 6 7"
run sluice-dedup --key s,x -o "$T/c.sl" "$T/in.sl"
is "by two keys" "$(ids "$T/c.sl")" "1 2 4 5 6 7"
run sluice-dedup --key x -o "$T/c2.sl" "$T/in.sl"
is "one float key: nil is a key of its own" "$(ids "$T/c2.sl")" "1 4 5"
run sluice-dedup --key id -o "$T/c3.sl" "$T/in.sl"
is "one int key" "$(ids "$T/c3.sl")" "1 2 3 4 5 6 7"
run sluice-dedup --key s -o "$T/c4.sl" "$T/c2.sl"
is "one str key" "$(ids "$T/c4.sl")" "1 5"
run sluice-dedup --key s --fold case,space -o "$T/d.sl" "$T/in.sl"
is "case and space folding" "$(ids "$T/d.sl")" "1 5 6"
run sluice-dedup --key s --fold case,space,nfc -o "$T/e.sl" "$T/in.sl"
is "NFC + case folding joins the three cafes" "$(ids "$T/e.sl")" "1 5"
run sluice-dedup --key s --report "$T/r.sl" -o "$T/f.sl" "$T/in.sl"
is "report: removed record numbers and kind" \
	"$($PY -c 'import msgpack,sys; print(list(msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False))[1:])' "$T/r.sl")" \
	"[[3, None, 1.0, 'exact'], [4, None, 1.0, 'exact'], [8, None, 1.0, 'exact']]"
# --trailer: the counts, known at the end, in a repeat of the header
sluice-dedup --trailer -o "$T/t1.sl" "$T/in.sl" 2>/dev/null
sluice-dedup --trailer --key s -o "$T/t2.sl" "$T/t1.sl" 2>/dev/null
is "trailer: the last object is the header again, the counts in its lineage" \
	"$($PY -c 'import msgpack,sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
t = objs[-1]
print(objs[0]["fields"] == t["fields"], [e.get("counts") for e in t["lineage"]], sum(isinstance(o, dict) for o in objs))' "$T/t2.sl")" \
	"True [{'records': 8, 'kept': 7, 'exact': 1, 'near': 0}, {'records': 7, 'kept': 5, 'exact': 2, 'near': 0}] 2"
is "trailer: the records are those without it" \
	"$($PY -c 'import msgpack,sys; print(" ".join(str(r[0]) for r in msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False) if isinstance(r, list)))' "$T/t2.sl")" \
	"$(ids "$T/b.sl")"
sluice-dedup -o "$T/a2.sl" "$T/in.sl" 2>/dev/null
cp "$T/a2.sl" "$T/a3.sl"; sluice-dedup -o "$T/a2.sl" "$T/in.sl" 2>/dev/null
is_file "same input, same bytes" "$T/a2.sl" "$T/a3.sl"

# Near duplicates: 400 random documents and 150 planted near-copies
# (one word changed, deleted or inserted, or an exact copy), shuffled in.
cat > "$T/corpus.py" <<'PYEOF'
import msgpack, random, sys
rnd = random.Random(11)
vocab = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 9))) for _ in range(5000)]
docs = [[rnd.choice(vocab) for _ in range(rnd.randint(80, 150))] for _ in range(400)]
order = [("base", i, d) for i, d in enumerate(docs)]
planted = []
for k in range(150):
    i = rnd.randrange(400)
    d = list(docs[i])
    op = k % 4
    j = rnd.randrange(len(d))
    if op == 0: d[j] = rnd.choice(vocab)
    elif op == 1: del d[j]
    elif op == 2: d.insert(j, rnd.choice(vocab))
    planted.append(("dup", i, d))
recs = order + planted
rnd.shuffle(recs)
# a near-copy must come after its original, so move originals first
seen = set(); out = []
for r in recs:
    if r[0] == "dup" and r[1] not in seen:
        out.append(("base", r[1], docs[r[1]])); seen.add(r[1])
    if r[0] == "base":
        if r[1] in seen: continue
        seen.add(r[1])
    out.append(r)
def sh(words):
    ws = [w.lower() for w in words]
    return set(" ".join(ws[i:i+5]) for i in range(len(ws) - 4))
truth = []
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["n", "int"], ["text", "str"]], "lineage": []}))
    for n, r in enumerate(out, 1):
        f.write(msgpack.packb([n, " ".join(r[2])]))
        if r[0] == "dup":
            j = len(sh(r[2]) & sh(docs[r[1]])) / len(sh(r[2]) | sh(docs[r[1]]))
            assert j >= 0.85, j
            truth.append(n)
with open(sys.argv[2], "w") as f:
    f.write(" ".join(map(str, truth)) + "\n")
PYEOF
$PY "$T/corpus.py" "$T/corpus.sl" "$T/truth.txt"
run sluice-dedup --near --report "$T/nr.sl" -o "$T/near.sl" "$T/corpus.sl"
ok_rc "near dedup runs" 0
score=$($PY - "$T/nr.sl" "$T/truth.txt" <<'PYEOF'
import msgpack, sys
removed = set(r[0] for r in list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))[1:])
truth = set(map(int, open(sys.argv[2]).read().split()))
tp = len(removed & truth)
p = tp / len(removed) if removed else 0
r = tp / len(truth)
print("ok" if p >= 0.95 and r >= 0.95 else "precision %.3f recall %.3f" % (p, r))
PYEOF
)
is "planted near-duplicates: precision and recall >= 0.95" "$score" "ok"
sims=$($PY -c 'import msgpack,sys; print(min(r[2] for r in list(msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False))[1:]) >= 0.8)' "$T/nr.sl")
is "every removal verified at or above the threshold" "$sims" "True"
run sluice-dedup --near --shingle char:8 -o "$T/near2.sl" "$T/corpus.sl"
ok_rc "character shingles run" 0

# bad input
run sluice-dedup --key nope "$T/in.sl"
ok_rc "unknown key field: exit 2" 2
like "unknown key is named" "$(cat "$T/err")" 'no field "nope"'
run sluice-dedup --threshold 1.5 "$T/in.sl"
ok_rc "threshold out of range: exit 2" 2
run sluice-dedup --near --text x "$T/in.sl"
ok_rc "near on a float field: exit 2" 2
run sluice-dedup "$TOP/tests/malformed/wrong-type.bin"
ok_rc "malformed input: exit 1" 1
done_testing

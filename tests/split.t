#!/bin/sh
# sluice-split: exact counts per part, stratification within one record,
# time order, whole groups, hash stability under appends, determinism,
# and bad input.  Outputs are checked by decoding them in Python.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

# 1000 records: id, class (a 70%, b 20%, c 10%), time (shuffled), group (50 groups)
$PY - "$T/in.sl" <<'PYEOF'
import msgpack, random, sys
rnd = random.Random(5)
times = list(range(1000)); rnd.shuffle(times)
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["id", "int"], ["cls", "str"], ["t", "int"], ["g", "int"]], "lineage": []}))
    for i in range(1000):
        c = "a" if i % 10 < 7 else ("b" if i % 10 < 9 else "c")
        f.write(msgpack.packb([i, c, times[i], rnd.randrange(50)]))
PYEOF

# check.py FILE...: prints "part count" lines and runs the named checks
cat > "$T/check.py" <<'PYEOF'
import msgpack, sys, collections
what = sys.argv[1]
recs = []
for fn in sys.argv[2:]:
    objs = list(msgpack.Unpacker(open(fn, "rb"), raw=False))
    hdr = objs[0]
    names = [f[0] for f in hdr["fields"]]
    for r in objs[1:]:
        d = dict(zip(names, r))
        d.setdefault("split", fn.rsplit("/", 1)[-1].split(".")[0])
        recs.append(d)
parts = collections.Counter(r["split"] for r in recs)
if what == "counts":
    print(" ".join("%s=%d" % (k, parts[k]) for k in sorted(parts)))
elif what == "order":
    print("in order" if [r["id"] for r in recs] == sorted(r["id"] for r in recs) else "reordered")
elif what == "strat":
    worst = 0
    for c in "abc":
        n = sum(1 for r in recs if r["cls"] == c)
        for p, ratio in (("train", .8), ("val", .1), ("test", .1)):
            k = sum(1 for r in recs if r["cls"] == c and r["split"] == p)
            worst = max(worst, abs(k - n * ratio))
    print("within one" if worst < 1 else "off by %g" % worst)
elif what == "time":
    last = {p: max(r["t"] for r in recs if r["split"] == p) for p in parts}
    first = {p: min(r["t"] for r in recs if r["split"] == p) for p in parts}
    ok = last["train"] < first["val"] and last["val"] < first["test"]
    print("ordered" if ok else "mixed")
elif what == "group":
    where = collections.defaultdict(set)
    for r in recs:
        where[r["g"]].add(r["split"])
    print("groups whole" if all(len(s) == 1 for s in where.values()) else "group crosses")
elif what == "assign":
    print(" ".join("%d:%s" % (r["id"], r["split"]) for r in recs))
elif what == "lineage":
    print(hdr["lineage"][-1].get("counts"))
PYEOF
chk() { $PY "$T/check.py" "$@"; }

run sluice-split --seed 1 -o "$T/r.sl" "$T/in.sl"
ok_rc "random split runs" 0
is "random: exact 80/10/10 counts" "$(chk counts "$T/r.sl")" "test=100 train=800 val=100"
is "records keep input order" "$(chk order "$T/r.sl")" "in order"
is "counts go to stderr" "$(cat "$T/err")" "sluice-split: 1000 records: train 800 val 100 test 100"
is "counts go to lineage" "$(chk lineage "$T/r.sl")" "{'train': 800, 'val': 100, 'test': 100}"
sluice-dedup --trailer "$T/in.sl" 2>/dev/null > "$T/dd.sl"
sluice-split --seed 1 -o "$T/rd.sl" "$T/dd.sl" 2>/dev/null
dedup_counts "after dedup --trailer: its counts in the parts' lineage" "$T/rd.sl" "$T/dd.sl"
is "... and the parts as without the trailer" "$(sluice-cat --json "$T/rd.sl")" "$(sluice-cat --json "$T/r.sl")"
cp "$T/r.sl" "$T/r1.sl"
sluice-split --seed 1 -o "$T/r.sl" "$T/in.sl" 2>/dev/null
is_file "same seed, same bytes" "$T/r.sl" "$T/r1.sl"
sluice-split --seed 2 -o "$T/r3.sl" "$T/in.sl" 2>/dev/null
if cmp -s "$T/r.sl" "$T/r3.sl"; then fail "another seed, another split"; else pass "another seed, another split"; fi
sluice-split --seed 1 < "$T/in.sl" > "$T/r4.sl" 2>/dev/null
is "stdin gives the same assignment" "$(chk assign "$T/r4.sl")" "$(chk assign "$T/r.sl")"

run sluice-split --ratios 0.7,0.3 --out train="$T/train.sl" --out test="$T/test.sl" "$T/in.sl"
ok_rc "two parts into two files" 0
is "two parts: 700/300" "$(chk counts "$T/train.sl" "$T/test.sl")" "test=300 train=700"

run sluice-split --mode stratified --by cls -o "$T/s.sl" "$T/in.sl"
is "stratified: totals" "$(chk counts "$T/s.sl")" "test=100 train=800 val=100"
is "stratified: each class within one record of its share" "$(chk strat "$T/s.sl")" "within one"
like "stratified: per-class counts on stderr" "$(cat "$T/err")" "class c: train 80 val 10 test 10"

run sluice-split --mode time --by t -o "$T/t.sl" "$T/in.sl"
is "time: earliest to train, latest to test" "$(chk time "$T/t.sl")" "ordered"
is "time: exact counts" "$(chk counts "$T/t.sl")" "test=100 train=800 val=100"

run sluice-split --mode group --by g --seed 3 -o "$T/g.sl" "$T/in.sl"
ok_rc "group split runs" 0
is "group: no group crosses parts" "$(chk group "$T/g.sl")" "groups whole"

# hash: a record's part does not change when data is appended
head -c 0 /dev/null
$PY - "$T/in.sl" "$T/half.sl" <<'PYEOF'
import msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
with open(sys.argv[2], "wb") as f:
    for o in objs[:501]:
        f.write(msgpack.packb(o))
PYEOF
sluice-split --mode hash --by id -o "$T/h1.sl" "$T/half.sl" 2>/dev/null
sluice-split --mode hash --by id -o "$T/h2.sl" "$T/in.sl" 2>/dev/null
is "hash: parts stable when data is appended" \
	"$(chk assign "$T/h1.sl")" "$(chk assign "$T/h2.sl" | tr ' ' '\n' | head -n 500 | tr '\n' ' ' | sed 's/ $//')"
like "hash: ratios roughly kept" "$(chk counts "$T/h2.sl")" "train=(7[5-9][0-9]|8[0-4][0-9])"

# bad usage and bad data
run sluice-split --mode stratified "$T/in.sl"
ok_rc "stratified without --by: exit 2" 2
run sluice-split --mode time --by nope "$T/in.sl"
ok_rc "unknown --by field: exit 2" 2
like "unknown field is named" "$(cat "$T/err")" 'no field "nope"'
run sluice-split --ratios 80/x "$T/in.sl"
ok_rc "bad ratios: exit 2" 2
run sluice-split --field id "$T/in.sl"
ok_rc "tag field that exists: exit 2" 2
$PY - "$T/nil.sl" <<'PYEOF'
import msgpack, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["t", "float"]], "lineage": []}))
    for v in (1.0, None, 2.0):
        f.write(msgpack.packb([v]))
PYEOF
run sluice-split --mode time --by t "$T/nil.sl"
ok_rc "missing time: exit 1" 1
like "missing time names the record" "$(cat "$T/err")" 'record 2: field "t"'
run sluice-split "$TOP/tests/malformed/truncated-record.bin"
ok_rc "truncated input: exit 1" 1
if [ ! -e "$T/none.sl" ]; then
	run sluice-split -o "$T/none.sl" "$TOP/tests/malformed/truncated-record.bin"
	if [ -e "$T/none.sl" ]; then fail "no output file after an error"; else pass "no output file after an error"; fi
fi
done_testing

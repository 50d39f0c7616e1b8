#!/bin/sh
# sluice-profile: a small report checked by hand (table and stream), a
# generated one checked field by field against Python's own computation,
# the estimated paths (HyperLogLog distinct counts, sampled quantiles),
# duplicates, segments, determinism, write errors, bad input and usage.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
cd "$T" || exit 1

cat > small.py <<'PYEOF'
import msgpack
F = [["n", "int"], ["s", "str"], ["x", "float"], ["t", "bool"]]
R = [[1, "a", 0.5, True], [2, "\u00e9\u00e9", float("nan"), False], [3, "a", -1.5, True],
     [4, None, 2.5, None], [None, "ccc", None, True], [1, "a", 0.5, True]]
lin = [{"program": "mk", "version": "1", "args": []}]
open("small.sl", "wb").write(msgpack.packb({"sluice": 1, "fields": F, "lineage": lin})
                             + b"".join(msgpack.packb(r) for r in R))
open("other.sl", "wb").write(msgpack.packb({"sluice": 1, "fields": [["n", "str"]]}) + msgpack.packb(["a"]))
open("nothing.sl", "wb").write(msgpack.packb({"sluice": 1, "fields": F}))
PYEOF
"$PY" small.py

# --------------------------------------------------- a report by hand
# n: 1 2 3 4 1 -> mean 2.2, std sqrt(6.8/4); x: NaN apart, -1.5 .5 .5 2.5
# -> mean .5, std sqrt(8/3), p25 = -1.5 + .75 * 2 = 0; s: lengths in code
# points 1 2 1 3 1; t: 4 of 5 true; record 6 repeats record 1.
run sluice-profile --table small.sl
ok_rc "--table exits 0" 0
is "--table: the totals and two aligned tables" "$(cat out)" \
'6 records, 1 duplicate

field   type  count  missing  missing%  distinct   min  p25  p50  p75  max  mean       std
n        int      5        1   16.6667         4     1    1    2    3    4   2.2   1.30384
s        str      5        1   16.6667         3     -    -    -    -    -     -         -
x      float      5        1   16.6667         4  -1.5    0  0.5    1  2.5   0.5   1.63299
t       bool      5        1   16.6667         2     0    1    1    1    1   0.8  0.447214

field  len_min  len_mean  len_max  nan  bad_utf8  top values (count)
n            -         -        -    -         -  1 (2), 2 (1), 3 (1), 4 (1)
s            1       1.6        3    -         0  a (3), ccc (1), éé (1)
x            -         -        -    1         -  0.5 (2), -1.5 (1), 2.5 (1), NaN (1)
t            -         -        -    -         -  true (4), false (1)'
is "--table: nothing on stderr" "$(cat err)" ""

run sluice-profile small.sl
ok_rc "into a file: a stream" 0
cp out report.sl
is "the totals on stderr" "$(cat err)" "sluice-profile: 6 records, 1 duplicate"
run sluice-cat report.sl
is "the stream: one record per field, every column" "$(cat out)" \
'{"name":"n","type":"int","count":5,"missing":1,"missing_pct":16.666666666666668,"distinct":4,"distinct_exact":true,"min":1.0,"max":4.0,"mean":2.2,"std":1.3038404810405297,"p1":1.0,"p5":1.0,"p25":1.0,"p50":2.0,"p75":3.0,"p95":3.8,"p99":3.96,"quantiles_exact":true,"nan":null,"len_min":null,"len_mean":null,"len_max":null,"invalid_utf8":null,"top":"[[1,2],[2,1],[3,1],[4,1]]"}
{"name":"s","type":"str","count":5,"missing":1,"missing_pct":16.666666666666668,"distinct":3,"distinct_exact":true,"min":null,"max":null,"mean":null,"std":null,"p1":null,"p5":null,"p25":null,"p50":null,"p75":null,"p95":null,"p99":null,"quantiles_exact":null,"nan":null,"len_min":1,"len_mean":1.6,"len_max":3,"invalid_utf8":0,"top":"[[\"a\",3],[\"ccc\",1],[\"éé\",1]]"}
{"name":"x","type":"float","count":5,"missing":1,"missing_pct":16.666666666666668,"distinct":4,"distinct_exact":true,"min":-1.5,"max":2.5,"mean":0.5,"std":1.632993161855452,"p1":-1.44,"p5":-1.2,"p25":0.0,"p50":0.5,"p75":1.0,"p95":2.1999999999999993,"p99":2.4399999999999995,"quantiles_exact":true,"nan":1,"len_min":null,"len_mean":null,"len_max":null,"invalid_utf8":null,"top":"[[0.5,2],[-1.5,1],[2.5,1],[NaN,1]]"}
{"name":"t","type":"bool","count":5,"missing":1,"missing_pct":16.666666666666668,"distinct":2,"distinct_exact":true,"min":0.0,"max":1.0,"mean":0.8,"std":0.4472135954999579,"p1":0.04,"p5":0.2,"p25":1.0,"p50":1.0,"p75":1.0,"p95":1.0,"p99":1.0,"quantiles_exact":true,"nan":null,"len_min":null,"len_mean":null,"len_max":null,"invalid_utf8":null,"top":"[[true,4],[false,1]]"}'
run sluice-cat --schema report.sl
like "the totals in the header's metadata" "$(cat out)" \
	'meta: \{"records":6,"duplicates":1,"duplicates_exact":true\}'
run sluice-cat --lineage report.sl
is "the lineage: the input's, then sluice-profile's" "$(cat out)" \
	'[{"program":"mk","version":"1","args":[]},{"program":"sluice-profile","version":"0.1.0","args":["small.sl"]}]'
sluice-profile small.sl > r2.sl 2>/dev/null
is_file "same input, same bytes" r2.sl report.sl
sluice-dedup --trailer small.sl 2>/dev/null > dd.sl
sluice-profile dd.sl > rd.sl 2>/dev/null
dedup_counts "after dedup --trailer: its counts in the report's lineage" rd.sl dd.sl

run sluice-profile -o rep.sl small.sl
is "-o FILE: the stream in the file" "$(cat out)$(sluice-cat --fields name --csv --no-header rep.sl | tr '\n' ' ')" "n s x t "
run sluice-profile --table -o rep.txt small.sl
is "--table -o FILE: the table in the file" "$(head -n 1 rep.txt)" "6 records, 1 duplicate"

"$PY" -c 'import msgpack; open("uniq.sl","wb").write(msgpack.packb({"sluice":1,"fields":[["u","str"]]}) + b"".join(msgpack.packb(["v%d" % i]) for i in range(9)))'
run sluice-profile --table uniq.sl
is "the table says when no value repeats" "$(tail -n 1 out)" \
	'u            2         2        2    -         0  (all distinct)'
run sluice-profile --table nothing.sl
is "a stream with no records: counts of 0, nothing else" "$(sed -n '1p;4p' out)" \
'0 records, 0 duplicates
n        int      0        0         -         0    -    -    -    -    -     -    -'

# ------------------------------------------------- segments and inputs
run sluice-profile --table small.sl small.sl
is "two inputs with the same fields are profiled together" \
	"$(sed -n '1p;4p' out)" '12 records, 7 duplicates
n        int     10        2   16.6667         4     1    1    2    3    4   2.2   1.22927'
run sluice-profile --table other.sl small.sl
ok_rc "segments with other fields: exit 1" 1
is "... saying which" "$(cat err)" \
	'sluice-profile: small.sl: segment 1: its fields differ from those of the first segment; profile such streams apart'

# ------------------------------------ generated data against Python
cat > gen.py <<'PYEOF'
import msgpack, random, struct, sys
rnd = random.Random(int(sys.argv[1]))
F = [["i", "int"], ["f", "float"], ["s", "str"], ["b", "bool"], ["raw", "bin"], ["v", "f64[]"], ["u", "u8[3]"]]
words = ["alpha", "beta", "gamma", "\u00e9t\u00e9", "\u65e5\u672c", "", "x" * 80, "y" * 70 + "\u00e9" * 5]
recs = []
for k in range(4000):
    r = [rnd.choice([None, rnd.randint(-50, 50), rnd.randint(-10**15, 10**15)]),
         rnd.choice([None, float("nan"), rnd.gauss(3, 10), rnd.choice([0.25, -0.0, 0.0, 1e150])]),
         rnd.choice([None] + words + ["w%d" % rnd.randint(0, 300)]),
         rnd.choice([None, True, False, True]),
         rnd.choice([None, b"", b"\xff\xfe", "text".encode(), bytes(rnd.getrandbits(8) for _ in range(5))]),
         None if rnd.random() < 0.2 else struct.pack("<%dd" % (n := rnd.randint(0, 4)), *[rnd.uniform(-1, 1) for _ in range(n)]),
         None if rnd.random() < 0.1 else bytes(rnd.randint(0, 255) for _ in range(3))]
    recs.append(r)
    if rnd.random() < 0.05:
        recs.append(list(r))  # an exact duplicate
with open("gen.sl", "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": F, "lineage": []}))
    for r in recs:
        f.write(msgpack.packb(r))
PYEOF
cat > check.py <<'PYEOF'
import msgpack, json, math, struct, sys
objs = list(msgpack.Unpacker(open("gen.sl", "rb"), raw=False))
F, recs = objs[0]["fields"], objs[1:]
rep = [json.loads(l) for l in open("report.json")]
bad = []
def q7(x, p):
    pos = p * (len(x) - 1)
    lo = int(pos)
    if lo + 1 >= len(x):
        return x[-1]
    frac = pos - lo
    return x[lo] if frac == 0 else x[lo] + (x[lo + 1] - x[lo]) * frac
def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))
def want_eq(field, col, got, want, rel=None):
    ok = close(got, want, rel) if rel else got == want
    if not ok:
        bad.append("%s.%s: got %r want %r" % (field, col, got, want))
def key(v):  # equal values as the profile counts them
    if isinstance(v, float):
        return "nan" if v != v else v + 0.0
    return (type(v).__name__, v)
for (name, ty), r in zip(F, rep):
    vals = [rec[F.index([name, ty])] for rec in recs]
    present = [v for v in vals if v is not None]
    want_eq(name, "count", r["count"], len(present))
    want_eq(name, "missing", r["missing"], len(vals) - len(present))
    want_eq(name, "missing_pct", r["missing_pct"], 100.0 * (len(vals) - len(present)) / len(vals), 1e-12)
    want_eq(name, "distinct", r["distinct"], len(set(key(v) for v in present)))
    nums = []
    if ty in ("int", "float", "bool"):
        nums = [float(v) for v in present]
    elif "[" in ty:
        fmt = "<%s" % ("d" if ty.startswith("f64") else "B")
        for v in present:
            nums += [x[0] for x in struct.iter_unpack(fmt, v)]
    nan = sum(1 for x in nums if x != x)
    nums = sorted(x for x in nums if x == x)
    if nums:
        finite = [x for x in nums if not math.isinf(x)]
        mean = math.fsum(finite) / len(finite)
        want_eq(name, "min", r["min"], nums[0])
        want_eq(name, "max", r["max"], nums[-1])
        want_eq(name, "mean", r["mean"], mean, 1e-9)
        std = math.sqrt(math.fsum((x - mean) ** 2 for x in finite) / (len(finite) - 1))
        want_eq(name, "std", r["std"], std, 1e-9)
        for p in (1, 5, 25, 50, 75, 95, 99):
            want_eq(name, "p%d" % p, r["p%d" % p], q7(nums, p / 100))
        want_eq(name, "quantiles_exact", r["quantiles_exact"], True)
    else:
        want_eq(name, "min", r["min"], None)
    if ty == "float" or ty.startswith("f64"):
        want_eq(name, "nan", r["nan"], nan)
    if ty in ("str", "bin") or "[" in ty:
        lens = [len(v) if ty == "str" else len(v) // (8 if ty.startswith("f64") else 1) if "[" in ty else len(v) for v in present]
        want_eq(name, "len_min", r["len_min"], min(lens))
        want_eq(name, "len_max", r["len_max"], max(lens))
        want_eq(name, "len_mean", r["len_mean"], sum(lens) / len(lens), 1e-12)
    if ty == "bin":
        def valid(b):
            try:
                b.decode("utf-8"); return True
            except UnicodeDecodeError:
                return False
        want_eq(name, "invalid_utf8", r["invalid_utf8"], sum(1 for v in present if not valid(v)))
    if ty in ("int", "float", "bool", "str"):
        counts = {}
        for v in present:
            counts[key(v)] = counts.get(key(v), 0) + 1
        def order(kv):
            k, c = kv
            if isinstance(k, tuple):
                k = k[1]
            if isinstance(k, str):
                return (-c, 0, k.encode())
            return (-c, 1 if k == "nan" else 0, 0 if k == "nan" else k)
        top = sorted(counts.items(), key=order)[:5]
        def show(k):
            k = k[1] if isinstance(k, tuple) else k
            if isinstance(k, str) and k != "nan" or ty == "str":
                b = k.encode()
                if len(b) > 64:
                    b = b[:64]
                    while b[-1] & 0xC0 == 0x80 and (b[-1] & 0xC0) != 0xC0:
                        b = b[:-1]
                    try:
                        return b.decode() + "\u2026"
                    except UnicodeDecodeError:
                        return b[:-1].decode() + "\u2026"
                return k
            return float("nan") if k == "nan" else k
        got = json.loads(r["top"], parse_constant=float)
        want = [[show(k), c] for k, c in top]
        if repr(got) != repr(want):
            bad.append("%s.top: got %r want %r" % (name, got, want))
raws = [msgpack.packb(r) for r in recs]
print("records", len(recs), "duplicates", len(raws) - len(set(raws)))
print("\n".join(bad) if bad else "all match")
PYEOF
for seed in 1 2; do
	"$PY" gen.py $seed
	sluice-profile gen.sl 2> gen.err | sluice-cat --json > report.json
	"$PY" check.py > check.out
	is "generated data (seed $seed): every column as Python computes it" "$(tail -n +2 check.out)" "all match"
	is "... and the totals" "$(cat gen.err)" \
		"sluice-profile: $(awk '{ print $2 " records, " $4 " duplicates"; exit }' check.out)"
done

# ------------------------------------------------------ estimated paths
cat > big.py <<'PYEOF'
import msgpack, random, struct
rnd = random.Random(4)
with open("distinct.sl", "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["k", "int"], ["s", "str"]]}))
    for i in range(3):
        f.write(msgpack.packb([7, "seven"]))
    for i in range(150000):
        f.write(msgpack.packb([1000 + i, "s%d" % i]))
    f.write(msgpack.packb([7, "seven"]))
with open("quant.sl", "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["v", "f32[600]"]]}))
    for i in range(2000):
        f.write(msgpack.packb([struct.pack("<600f", *[rnd.random() for _ in range(600)])]))
PYEOF
"$PY" big.py
sluice-profile distinct.sl 2>/dev/null > distinct-report.sl
sluice-cat --csv --no-header --fields name,distinct,distinct_exact distinct-report.sl > out
is "past 100000 distinct values: an estimate (within 2% of 150001), flagged" \
	"$(awk -F, '{ d = $2 - 150001; if (d < 0) d = -d; print $1, (d < 3000 ? "close" : $2), $3 }' out)" \
	'k close false
s close false'
run sluice-cat --fields top distinct-report.sl
is "... while the counts of the values in the table stay exact" "$(cat out)" \
'{"top":"[[7,4],[1000,1],[1001,1],[1002,1],[1003,1]]"}
{"top":"[[\"seven\",4],[\"s0\",1],[\"s1\",1],[\"s10\",1],[\"s100\",1]]"}'
run sluice-profile --table distinct.sl
like "the table marks an estimate with ~" "$(sed -n 4p out)" '^k +int +150004 +0 +0 +~1[45][0-9]{4} '

sluice-profile quant.sl 2>/dev/null | sluice-cat --csv --no-header --fields count,p50,quantiles_exact,len_mean > out
is "past 2^20 numbers: quantiles from a sample (median of U(0,1) within 0.01), flagged" \
	"$(awk -F, '{ print $1, ($2 > 0.49 && $2 < 0.51) ? "near 0.5" : $2, $3, $4 }' out)" "2000 near 0.5 false 600.0"
sluice-profile --seed 1 quant.sl > q1.sl 2>/dev/null
sluice-profile --seed 1 quant.sl > q1b.sl 2>/dev/null
sluice-profile --seed 2 quant.sl > q2.sl 2>/dev/null
is_file "--seed: the same seed, the same sample" q1.sl q1b.sl
if cmp -s q1.sl q2.sl; then fail "--seed: another seed, another sample"; else pass "--seed: another seed, another sample"; fi

# ------------------------------------------------------ output, errors
if command -v script >/dev/null 2>&1; then
	script -qc "sluice-profile small.sl" tty.log < /dev/null | tr -d '\r' > tty.out
	is "on a terminal the default is the table" "$(head -n 1 tty.out)" "6 records, 1 duplicate"
	script -qc "sluice-profile -s small.sl; echo status \$?" tty.log < /dev/null | tr -d '\r' > tty.out
	like "-s refuses to write a stream to a terminal" "$(tr "\n" " " < tty.out)" "refusing to write a binary stream to a terminal.*status 1"
else
	pass "terminal output # SKIP no script(1)"
fi
if [ -w /dev/full ]; then
	run sh -c 'sluice-profile small.sl > /dev/full'
	ok_rc "a full disk is an error (stream)" 1
	like "... with a message" "$(cat err)" "^sluice-profile: \(stdout\): write error: No space left on device"
	run sh -c 'sluice-profile --table small.sl > /dev/full'
	ok_rc "a full disk is an error (table)" 1
	is "... with a message" "$(cat err)" "sluice-profile: (stdout): write error: No space left on device"
fi

cat > bad.py <<'PYEOF'
import msgpack
F = [["n", "int"], ["s", "str"]]
h = msgpack.packb({"sluice": 1, "fields": F})
good = h + msgpack.packb([1, "a"]) + msgpack.packb([2, "bb"])
open("truncated.sl", "wb").write(good[:-2])
open("wrong-type.sl", "wb").write(h + msgpack.packb([1, "a"]) + msgpack.packb(["x", "b"]))
open("garbage.sl", "wb").write(b"\x01\x02garbage")
open("empty.sl", "wb").write(b"")
open("huge-length.sl", "wb").write(h + b"\x92\x01\xdb\x7f\xff\xff\xffab")
open("bad-utf8.sl", "wb").write(h + b"\x92\x01\xa2\xc3\x28")
PYEOF
"$PY" bad.py
for case in \
	'truncated.sl: record 2: field "s": truncated (input ends 3 bytes into the record)' \
	'wrong-type.sl: record 2: field "n": expected int, got str' \
	'garbage.sl: byte 0: expected a header (map) or a record (array), got int (is this a sluice stream?)' \
	'empty.sl: empty input: no stream header' \
	'huge-length.sl: record 1: field "s": truncated (input ends 9 bytes into the record)' \
	'bad-utf8.sl: record 1: field "s": invalid UTF-8 at byte 0 of the string'; do
	f=${case%%:*}
	run sluice-profile -o rep-bad.sl "$f"
	is "bad input ($f): exit 1, input, record and field named" "$rc $(cat err)" "1 sluice-profile: $case"
	is "... and no report left behind" "$(ls rep-bad.sl* 2>/dev/null)" ""
done
run sh -c 'sluice-profile --table < truncated.sl'
is "bad input on stdin, in table mode" "$rc $(cat err)" \
	'1 sluice-profile: (stdin): record 2: field "s": truncated (input ends 3 bytes into the record)'

run sluice-profile --seed x small.sl
ok_rc "a seed that is not a number is a usage error" 2
run sluice-profile --table --zstd small.sl
ok_rc "--zstd with --table is a usage error" 2
run sluice-profile --bogus small.sl
ok_rc "an unknown option is a usage error" 2

done_testing

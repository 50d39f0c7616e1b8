#!/bin/sh
# sluice-impute: each method against values computed by hand (or, for
# z-scored knn, by a plain-Python brute force), fit on one stream and apply
# to another, the state as a stream, determinism and bad input.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

# mk FILE 'fields' 'rows': a stream from Python literals (nan = NaN)
mk() {
	$PY - "$@" <<'PYEOF'
import msgpack, sys
nan, inf = float("nan"), float("inf")
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": eval(sys.argv[2]), "lineage": [{"program": "test"}]}))
    for r in eval(sys.argv[3]):
        f.write(msgpack.packb(r))
PYEOF
}
# col FILE FIELD: the field's values, JSON, space-separated
col() {
	$PY - "$@" <<'PYEOF'
import json, msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
i = [f[0] for f in objs[0]["fields"]].index(sys.argv[2])
print(" ".join(json.dumps(r[i]) for r in objs[1:]))
PYEOF
}
# hdr FILE EXPR: a Python expression over the header h
hdr() {
	$PY -c 'import msgpack,sys; h=next(iter(msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False))); print(eval(sys.argv[2]))' "$1" "$2"
}

F='[["id","int"],["a","int"],["x","float"],["s","str"],["b","bool"]]'
mk "$T/in.sl" "$F" '[
 [1, 4,    1.5, "b",  True],
 [2, None, 2.5, "a",  False],
 [3, 7,    nan, None, None],
 [4, 1,    0.5, "b",  True],
 [5, 7,    None,"c",  True],
 [6, 10,   4.0, "a",  False],
 [7, None, 3.0, "c",  None],
 [8, 2,    None,None, True],
 [9, 7,    1.0, "c",  False],
 [10,3,    2.5, "a",  True]]'
# a: 4 7 1 7 10 2 7 3 present: sum 41 / 8 = 5.125; sorted 1 2 3 4 | 7 7 7 10:
#    median (4 + 7) / 2 = 5.5; mode 7.
# x: 1.5 2.5 0.5 4.0 3.0 1.0 2.5 present (NaN and nil missing): 15 / 7;
#    sorted 0.5 1 1.5 2.5 2.5 3 4: median 2.5, mode 2.5.
# s: a 3, c 3, b 2: mode "a" (the smaller of the two).  b: true 5: mode true.

run sluice-impute -o "$T/o.sl" "$T/in.sl"
ok_rc "mean (the default) runs" 0
is "mean of an int field: 5.125, so it becomes float" "$(col "$T/o.sl" a)" \
	"4.0 5.125 7.0 1.0 7.0 10.0 5.125 2.0 7.0 3.0"
is "mean of a float field, NaN and nil both filled" "$(col "$T/o.sl" x)" \
	"1.5 2.5 2.142857142857143 0.5 2.142857142857143 4.0 3.0 2.142857142857143 1.0 2.5"
is "the id field is an int field with no gaps: only its type changes" "$(col "$T/o.sl" id)" \
	"1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0 9.0 10.0"
is "counts and the type change on stderr" "$(cat "$T/err")" \
'sluice-impute: field "id" (int) becomes float: its mean 5.5 is not an integer (--round keeps it int)
sluice-impute: field "a" (int) becomes float: its mean 5.125 is not an integer (--round keeps it int)
sluice-impute: 10 records; filled id 0 (mean), a 2 (mean), x 3 (mean)'
is "counts in the lineage entry" "$(hdr "$T/o.sl" 'h["lineage"][-1]["counts"]')" \
	"{'records': 10, 'dropped': 0, 'filled': {'id': 0, 'a': 2, 'x': 3}}"
is "the input's lineage is kept" "$(hdr "$T/o.sl" 'h["lineage"][0]')" "{'program': 'test'}"
is "types: a float, s and b untouched" "$(hdr "$T/o.sl" 'h["fields"]')" \
	"[['id', 'float'], ['a', 'float'], ['x', 'float'], ['s', 'str'], ['b', 'bool']]"

run sluice-impute --fields a --round -o "$T/o.sl" "$T/in.sl"
is "--round keeps an int field int: 5.125 -> 5" "$(col "$T/o.sl" a)" "4 5 7 1 7 10 5 2 7 3"
is "--round: no type change" "$(hdr "$T/o.sl" 'h["fields"][1]')" "['a', 'int']"

run sluice-impute --method median --fields a,x -o "$T/o.sl" "$T/in.sl"
is "median of a: 5.5" "$(col "$T/o.sl" a)" "4.0 5.5 7.0 1.0 7.0 10.0 5.5 2.0 7.0 3.0"
is "median of x: 2.5" "$(col "$T/o.sl" x)" "1.5 2.5 2.5 0.5 2.5 4.0 3.0 2.5 1.0 2.5"

run sluice-impute --method mode --fields a,x,s,b -o "$T/o.sl" "$T/in.sl"
is "mode of an int field: 7, still int" "$(col "$T/o.sl" a)" "4 7 7 1 7 10 7 2 7 3"
is "mode of x: 2.5" "$(col "$T/o.sl" x)" "1.5 2.5 2.5 0.5 2.5 4.0 3.0 2.5 1.0 2.5"
is "mode of str: the smaller of a tie" "$(col "$T/o.sl" s)" '"b" "a" "a" "b" "c" "a" "c" "a" "c" "a"'
is "mode of bool" "$(col "$T/o.sl" b)" "true false true true true false true true false true"

run sluice-impute --method constant --fields a,s,b --value-for a=-1 --value-for s=unknown \
	--value-for b=false -o "$T/o.sl" "$T/in.sl"
is "constant int" "$(col "$T/o.sl" a)" "4 -1 7 1 7 10 -1 2 7 3"
is "constant str" "$(col "$T/o.sl" s)" '"b" "a" "unknown" "b" "c" "a" "c" "unknown" "c" "a"'
is "constant bool" "$(col "$T/o.sl" b)" "true false false true true false false true false true"
run sluice-impute --method constant --fields x,s -o "$T/o.sl" "$T/in.sl"
is "constant defaults: 0 (x)" "$(col "$T/o.sl" x)" "1.5 2.5 0.0 0.5 0.0 4.0 3.0 0.0 1.0 2.5"
is "constant defaults: missing_value (s)" "$(col "$T/o.sl" s)" \
	'"b" "a" "missing_value" "b" "c" "a" "c" "missing_value" "c" "a"'
run sluice-impute --method constant --fields a --value 2.5 -o "$T/o.sl" "$T/in.sl"
is "a fractional constant makes an int field float" "$(col "$T/o.sl" a)" "4.0 2.5 7.0 1.0 7.0 10.0 2.5 2.0 7.0 3.0"

run sluice-impute --method marker --value -1 --fields a,x -o "$T/o.sl" "$T/in.sl"
is "marker: the value" "$(col "$T/o.sl" x)" "1.5 2.5 -1.0 0.5 -1.0 4.0 3.0 -1.0 1.0 2.5"
is "marker: the indicator" "$(col "$T/o.sl" x_missing)" "false false true false true false false true false false"
is "marker: indicators after the input's fields" "$(hdr "$T/o.sl" '[f[0] for f in h["fields"]]')" \
	"['id', 'a', 'x', 's', 'b', 'a_missing', 'x_missing']"

# drop on a; the other fields are fitted on the kept records only:
# x over records 1 3 4 5 6 8 9 10 has 1.5 0.5 4.0 1.0 2.5: mean 9.5 / 5 = 1.9
run sluice-impute --fields x --method-for a=drop -o "$T/o.sl" "$T/in.sl"
is "drop: records 2 and 7 go" "$(col "$T/o.sl" id)" "1 3 4 5 6 8 9 10"
is "drop: the mean of the kept records" "$(col "$T/o.sl" x)" "1.5 1.9 0.5 1.9 4.0 1.9 1.0 2.5"
is "drop: counts on stderr" "$(cat "$T/err")" "sluice-impute: 10 records, 2 dropped; filled x 3 (mean)"
is "drop: counts in lineage" "$(hdr "$T/o.sl" 'h["lineage"][-1]["counts"]')" \
	"{'records': 10, 'dropped': 2, 'filled': {'x': 3}}"

# knn by hand, unscaled.  Record 5 has q = 25 only: p's donors at squared
# distance 2/1 * (25 - q)^2 are records 2 and 3 (50 each), then 1 (450);
# record 6 (p 2.5, q missing) shares no field with record 5.
mk "$T/k.sl" '[["p","float"],["q","float"]]' '[[1.0,10.0],[2.0,20.0],[3.0,30.0],[10.0,100.0],[None,25.0],[2.5,None]]'
run sluice-impute --method knn --k 2 --knn-scale none -o "$T/o.sl" "$T/k.sl"
is "knn k 2: the mean of the two nearest" "$(col "$T/o.sl" p)" "1.0 2.0 3.0 10.0 2.5 2.5"
is "knn k 2: the other field" "$(col "$T/o.sl" q)" "10.0 20.0 30.0 100.0 25.0 25.0"
run sluice-impute --method knn --k 1 --knn-scale none -o "$T/o.sl" "$T/k.sl"
is "knn k 1: of two equally near, the earlier record" "$(col "$T/o.sl" p) / $(col "$T/o.sl" q)" \
	"1.0 2.0 3.0 10.0 2.0 2.5 / 10.0 20.0 30.0 100.0 25.0 20.0"
mk "$T/k1.sl" '[["p","float"],["q","float"]]' '[[1.0,None],[None,5.0],[3.0,None]]'
run sluice-impute --method knn -o "$T/o.sl" "$T/k1.sl"
is "knn with no neighbour sharing a field: the mean" "$(col "$T/o.sl" p)" "1.0 2.0 3.0"
like "knn fallbacks are counted" "$(cat "$T/err")" "filled p 1 \\(knn, 1 of them by the mean\\)"

# z-scored knn against a brute force in plain Python
$PY - "$T/kz.sl" "$T/kz.want" <<'PYEOF'
import math, msgpack, random, sys
rnd = random.Random(3)
rows = []
for i in range(40):
    r = [rnd.gauss(0, 1), rnd.gauss(1000, 300), float(rnd.randrange(5)), rnd.uniform(0, 10)]
    for j in range(4):
        if rnd.random() < 0.15:
            r[j] = None
    rows.append(r)
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["u", "float"], ["v", "float"], ["w", "float"], ["y", "float"]], "lineage": []}))
    for r in rows:
        f.write(msgpack.packb(r))
F, k = 4, 3
mean, std = [], []
for j in range(F):
    xs = [r[j] for r in rows if r[j] is not None]
    m = 0.0
    for x in xs: m += x
    m /= len(xs)
    ss = 0.0
    for x in xs: ss += (x - m) * (x - m)
    mean.append(m); std.append(math.sqrt(ss / len(xs)))
z = [[None if r[j] is None else (r[j] - mean[j]) / std[j] for j in range(F)] for r in rows]
out = []
for i, r in enumerate(rows):
    o = list(r)
    for j in range(F):
        if r[j] is not None:
            continue
        cand = []
        for d, s in enumerate(rows):
            if s[j] is None:
                continue
            acc, c = 0.0, 0
            for f in range(F):
                if z[i][f] is not None and z[d][f] is not None:
                    t = z[i][f] - z[d][f]; acc += t * t; c += 1
            if c:
                cand.append((acc * F / c, d))
        cand.sort()
        best = cand[:k]
        if best:
            acc = 0.0
            for _, d in best: acc += rows[d][j]
            o[j] = acc / len(best)
        else:
            o[j] = mean[j]
    out.append(o)
with open(sys.argv[2], "w") as f:
    for j in range(F):
        f.write(" ".join(repr(o[j]) for o in out) + "\n")
PYEOF
run sluice-impute --method knn --k 3 -o "$T/o.sl" "$T/kz.sl"
got=$(for f in u v w y; do col "$T/o.sl" $f; done)
is "z-scored knn equals a brute force, bit for bit" "$got" "$(cat "$T/kz.want")"

# regression by hand: y = 2x + 1 on the complete records 1-3
mk "$T/r.sl" '[["x","float"],["y","float"]]' '[[1.0,3.0],[2.0,5.0],[3.0,7.0],[4.0,None],[None,9.0],[None,None]]'
run sluice-impute --method regression -o "$T/o.sl" "$T/r.sl"
ok_rc "regression runs" 0
r12() { $PY -c 'import json,sys; print(" ".join("%.12g" % v for v in json.loads("["+sys.argv[1].replace(" ",",")+"]")))' "$1"; }
is "regression: y = 2x + 1, and the mean (6) without x" "$(r12 "$(col "$T/o.sl" y)")" "3 5 7 9 9 6"
is "regression: x = (y - 1) / 2, and the mean (2.5) without y" "$(r12 "$(col "$T/o.sl" x)")" "1 2 3 4 4 2.5"
is "regression: fallbacks counted" "$(cat "$T/err")" \
	"sluice-impute: 6 records; filled x 2 (regression, 1 of them by the mean), y 2 (regression, 1 of them by the mean)"
mk "$T/r2.sl" '[["x","float"],["z","float"],["y","float"]]' \
	'[[1.0,2.0,4.0],[2.0,4.0,6.0],[3.0,6.0,8.0],[5.0,10.0,12.0],[4.0,None,None]]'
run sluice-impute --method-for y=regression --fields y -o "$T/o.sl" "$T/r2.sl"
is "regression: a collinear predictor is left out, and not needed" "$(r12 "$(col "$T/o.sl" y)")" "4 6 8 12 10"

# fit on train, apply to test: the test set gets the training numbers
mk "$T/test.sl" "$F" '[[11, None, None, None, None], [12, 100, 50.0, "z", False]]'
run sluice-impute --fit "$T/state.sl" --method-for s=mode -o "$T/tr.sl" "$T/in.sl"
ok_rc "--fit runs" 0
run sluice-impute --apply "$T/state.sl" -o "$T/te.sl" "$T/test.sl"
ok_rc "--apply runs" 0
is "apply: the training mean of a, not the test's" "$(col "$T/te.sl" a)" "5.125 100.0"
is "apply: the training mean of x" "$(col "$T/te.sl" x)" "2.142857142857143 50.0"
is "apply: the training mode of s" "$(col "$T/te.sl" s)" '"a" "z"'
is "apply: counts to stderr" "$(tail -n 1 "$T/err")" \
	"sluice-impute: 2 records; filled id 0 (mean), a 1 (mean), x 1 (mean), s 1 (mode)"
is "apply: lineage names the state, no counts" "$(hdr "$T/te.sl" 'h["lineage"][-1]')" \
	"{'program': 'sluice-impute', 'version': '0.1.0', 'args': ['--apply', '$T/state.sl', '$T/test.sl']}"
is "the state's header" "$(hdr "$T/state.sl" '(h["state"], h["params"], h["lineage"][0])')" \
	"('sluice-impute', {'k': 5, 'knn_scale': 'zscore', 'round': False}, {'program': 'test'})"
if [ -x "$B/bin/sluice-cat" ]; then
	is "the state is a stream sluice-cat shows" "$(sluice-cat --json "$T/state.sl" | sed -n 2,4p)" \
'{"field":"a","type":"int","method":"mean","value":5.125,"ivalue":null,"text":null,"scale":null,"vec":null}
{"field":"x","type":"float","method":"mean","value":2.142857142857143,"ivalue":null,"text":null,"scale":null,"vec":null}
{"field":"s","type":"str","method":"mode","value":null,"ivalue":null,"text":"a","scale":null,"vec":null}'
else
	pass "# skip: no sluice-cat"
fi
run sluice-impute --fit-only "$T/state2.sl" --method-for s=mode "$T/in.sl"
ok_rc "--fit-only runs" 0
is "--fit-only writes no stream" "$(cat "$T/out")" ""
is "--fit-only: the same records as --fit" "$(col "$T/state2.sl" value) $(col "$T/state2.sl" text)" \
	"$(col "$T/state.sl" value) $(col "$T/state.sl" text)"

# knn state: donors are the training records; the test record's own
# values are no donors
mk "$T/ktest.sl" '[["p","float"],["q","float"]]' '[[None,29.0],[2.0,20.0]]'
sluice-impute --fit-only "$T/kst.sl" --method knn --k 1 --knn-scale none "$T/k.sl" 2>/dev/null
run sluice-impute --apply "$T/kst.sl" -o "$T/o.sl" "$T/ktest.sl"
is "knn apply: the nearest training record (3.0 at q 30)" "$(col "$T/o.sl" p)" "3.0 2.0"
is "knn state: one donor per training record" "$(col "$T/kst.sl" method | tr ' ' '\n' | grep -c donor)" "6"

# --apply --trailer: the header once more at the end, its lineage entry
# with the counts (trail, tests/lib.sh, reads them back).
# asline FILE [drop]: the trailer's counts written as the stderr line is
asline() {
	$PY -c 'import msgpack,sys
c = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))[-1]["lineage"][-1]["counts"]
s = "sluice-impute: %d records" % c["records"]
if sys.argv[2:]: s += ", %d dropped" % c["dropped"]
f = []
for k, n in c["filled"].items():
    m = c["methods"][k]
    b = c.get("by_mean", {}).get(k, 0)
    f.append("%s %d (%s%s)" % (k, n, m, ", %d of them by the mean" % b if b else ""))
print(s + "; filled " + ", ".join(f))' "$@"
}
run sluice-impute --apply "$T/state.sl" --trailer -o "$T/tt.sl" "$T/test.sl"
ok_rc "--apply --trailer runs" 0
is "trailer: the header again at the end, the counts of the run in its lineage" "$(trail "$T/tt.sl")" \
	"True 2 [None, {'records': 2, 'dropped': 0, 'filled': {'id': 0, 'a': 1, 'x': 1, 's': 1}, 'methods': {'id': 'mean', 'a': 'mean', 'x': 'mean', 's': 'mode'}}]"
is "trailer: the numbers stderr gives" "$(asline "$T/tt.sl")" "$(tail -n 1 "$T/err")"
is "trailer: sluice-cat reads the same records" "$(sluice-cat --json "$T/tt.sl")" "$(sluice-cat --json "$T/te.sl")"
# b is nil in records 3 and 7, which go; of the rest a lacks a value in
# record 2, x in 5 and 8, s in 8
sluice-impute --fit-only "$T/dst.sl" --method-for b=drop --method-for s=mode "$T/in.sl" 2>/dev/null
run sluice-impute --apply "$T/dst.sl" --trailer -o "$T/tt.sl" "$T/in.sl"
is "trailer with a drop field: 2 of 10 records dropped" "$(trail "$T/tt.sl")" \
	"True 2 [None, {'records': 10, 'dropped': 2, 'filled': {'id': 0, 'a': 1, 'x': 2, 's': 1}, 'methods': {'id': 'mean', 'a': 'mean', 'x': 'mean', 's': 'mode'}}]"
is "trailer with a drop field: stderr's numbers" "$(asline "$T/tt.sl" drop)" "$(tail -n 1 "$T/err")"
sluice-impute --fit-only "$T/rst.sl" --method regression "$T/r.sl" 2>/dev/null
run sluice-impute --apply "$T/rst.sl" --trailer -o "$T/tt.sl" "$T/r.sl"
is "trailer: regression fills made by the mean" "$(trail "$T/tt.sl")" \
	"True 2 [None, {'records': 6, 'dropped': 0, 'filled': {'x': 2, 'y': 2}, 'methods': {'x': 'regression', 'y': 'regression'}, 'by_mean': {'x': 1, 'y': 1}}]"
is "trailer with fallbacks: stderr's numbers" "$(asline "$T/tt.sl")" "$(tail -n 1 "$T/err")"
# a chain: dedup's trailer is the last header impute reads, so its counts
# carry on into impute's trailer
mk "$T/dup.sl" "$F" '[[11, None, None, None, None], [11, None, None, None, None], [12, 100, 50.0, "z", False]]'
sluice-dedup --trailer "$T/dup.sl" 2>/dev/null | sluice-impute --apply "$T/state.sl" --trailer > "$T/chain.sl" 2>/dev/null
is "a chain of trailers keeps both stages' counts" "$(trail "$T/chain.sl")" \
	"True 2 [None, {'records': 3, 'kept': 2, 'exact': 1, 'near': 0}, {'records': 2, 'dropped': 0, 'filled': {'id': 0, 'a': 1, 'x': 1, 's': 1}, 'methods': {'id': 'mean', 'a': 'mean', 'x': 'mean', 's': 'mode'}}]"
is "a chain: the records as without the trailers" "$(sluice-cat --json "$T/chain.sl")" "$(sluice-cat --json "$T/te.sl")"
is "a chain: the first header's lineage has no counts" "$(hdr "$T/chain.sl" '[e.get("counts") for e in h["lineage"]]')" "[None, None, None]"
trailer_refusals sluice-impute "$T/state.sl" "$T/in.sl"
fit_lineage sluice-impute

# determinism: same input, same paths, same bytes
sluice-impute --fit "$T/s1.sl" --method knn -o "$T/d.sl" "$T/kz.sl" 2>/dev/null
cp "$T/s1.sl" "$T/s1.first"; cp "$T/d.sl" "$T/d.first"
sluice-impute --fit "$T/s1.sl" --method knn -o "$T/d.sl" "$T/kz.sl" 2>/dev/null
is_file "the same state bytes twice" "$T/s1.sl" "$T/s1.first"
is_file "the same output bytes twice" "$T/d.sl" "$T/d.first"
sluice-impute --method knn < "$T/kz.sl" > "$T/d2.sl" 2>/dev/null
is "stdin gives the same values" "$(col "$T/d2.sl" y)" "$(col "$T/d.sl" y)"

# bad usage and bad data
run sluice-impute --fields nope "$T/in.sl"
ok_rc "unknown field: exit 2" 2
like "unknown field is named" "$(cat "$T/err")" 'no field "nope"'
run sluice-impute --method mean --fields s "$T/in.sl"
ok_rc "mean of a str field: exit 2" 2
like "says which methods take what" "$(cat "$T/err")" 'field "s" is str; mean takes int or float fields'
run sluice-impute --method constant --fields a --value abc "$T/in.sl"
ok_rc "a constant that is not an int: exit 2" 2
run sluice-impute --method nope "$T/in.sl"
ok_rc "unknown method: exit 2" 2
run sluice-impute --method-for a "$T/in.sl"
ok_rc "--method-for without =: exit 2" 2
run sluice-impute --value-for s=x "$T/in.sl"
ok_rc "--value-for a field not filled by a constant: exit 2" 2
run sluice-impute --value 3 "$T/in.sl"
ok_rc "--value without a constant or marker field: exit 2" 2
run sluice-impute --k 0 "$T/in.sl"
ok_rc "--k 0: exit 2" 2
mk "$T/clash.sl" '[["a","int"],["a_missing","bool"]]' '[[1, False]]'
run sluice-impute --method marker --fields a "$T/clash.sl"
ok_rc "an indicator that exists already: exit 2" 2
run sluice-impute --apply "$T/state.sl" --method median "$T/test.sl"
ok_rc "--apply with a fitting option: exit 2" 2
run sluice-impute --apply "$T/in.sl" "$T/test.sl"
ok_rc "a stream that is not a state: exit 1" 1
like "says it is not a state" "$(cat "$T/err")" "in.sl: not a sluice-impute state"
sluice-outliers --fit-only "$T/ost.sl" "$T/in.sl" 2>/dev/null
run sluice-impute --apply "$T/ost.sl" "$T/test.sl"
ok_rc "another program's state: exit 1" 1
like "names the state file" "$(cat "$T/err")" "ost.sl: not a sluice-impute state"
mk "$T/other.sl" '[["id","int"],["a","int"]]' '[[1, 2]]'
run sluice-impute --apply "$T/state.sl" "$T/other.sl"
ok_rc "apply to a stream without a state field: exit 2" 2
like "names the missing field" "$(cat "$T/err")" 'no field "x"'
mk "$T/other2.sl" '[["id","int"],["a","str"],["x","float"],["s","str"],["b","bool"]]' '[[1, "x", 1.0, "a", True]]'
run sluice-impute --apply "$T/state.sl" "$T/other2.sl"
ok_rc "apply to a field of another type: exit 2" 2
like "names both types" "$(cat "$T/err")" 'field "a" is str, but the state was fitted on int'
mk "$T/empty.sl" '[["a","int"],["x","float"]]' '[[None, 1.0]]'
run sluice-impute "$T/empty.sl"
ok_rc "a field with nothing to learn from: exit 1" 1
like "says what is missing" "$(cat "$T/err")" 'field "a": 1 values missing, and none present'
run sluice-impute "$TOP/tests/malformed/truncated-record.bin"
ok_rc "malformed input: exit 1" 1
run sluice-impute -o "$T/none.sl" "$TOP/tests/malformed/wrong-type.bin"
if [ -e "$T/none.sl" ]; then fail "no output file after an error"; else pass "no output file after an error"; fi
printf 'garbage' > "$T/bad.sl"
run sluice-impute --apply "$T/bad.sl" "$T/test.sl"
ok_rc "a malformed state: exit 1" 1
like "a malformed state is named" "$(cat "$T/err")" "^sluice-impute: .*bad.sl"
# All-float input is held as columns, anything else as encoded records:
# the same numbers either way (an extra str field forces the second way).
awk 'BEGIN { srand(7); print "a,b,s"; for (i = 1; i <= 3000; i++) {
	a = (i % 13 == 0) ? "" : sprintf("%.1f", int(rand() * 1000) - 500)
	b = (i % 17 == 0) ? "" : sprintf("%.3f", rand() * rand() * 100)
	if (i % 101 == 0) b = "1e6"
	print a "," b ",t" i } }' > "$T/cols.csv"
cut -d, -f1,2 "$T/cols.csv" > "$T/cols2.csv"
for args in "sluice-impute" "sluice-impute --method median" "sluice-impute --method knn --k 3"; do
	# shellcheck disable=SC2086 # the arguments are words
	sluice-ingest "$T/cols.csv" | $args 2>/dev/null | sluice-cat --csv | cut -d, -f3 --complement > "$T/cols-rec.csv"
	# shellcheck disable=SC2086
	sluice-ingest "$T/cols2.csv" | $args 2>/dev/null | sluice-cat --csv > "$T/cols-col.csv"
	if [ -s "$T/cols-col.csv" ] && cmp -s "$T/cols-rec.csv" "$T/cols-col.csv"; then
		pass "columns and encoded records agree: $args"
	else
		fail "columns and encoded records agree: $args"
		diag "$(diff "$T/cols-rec.csv" "$T/cols-col.csv" | head -n 6)"
	fi
done
done_testing

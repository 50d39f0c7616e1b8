#!/bin/sh
# sluice-outliers: IQR and z-score fences computed by hand, each action,
# int fields and --round, fit on one stream and apply to another, the
# state as a stream, determinism and bad input.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

mk() {
	$PY - "$@" <<'PYEOF'
import msgpack, sys
nan, inf = float("nan"), float("inf")
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": eval(sys.argv[2]), "lineage": []}))
    for r in eval(sys.argv[3]):
        f.write(msgpack.packb(r))
PYEOF
}
col() {
	$PY - "$@" <<'PYEOF'
import json, msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
i = [f[0] for f in objs[0]["fields"]].index(sys.argv[2])
print(" ".join(json.dumps(r[i]) for r in objs[1:]))
PYEOF
}
hdr() {
	$PY -c 'import msgpack,sys; h=next(iter(msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False))); print(eval(sys.argv[2]))' "$1" "$2"
}

F='[["id","str"],["a","int"],["x","float"]]'
mk "$T/in.sl" "$F" '[["r1",1,0.5],["r2",2,1.0],["r3",3,1.5],["r4",4,nan],["r5",5,2.5],
 ["r6",6,3.0],["r7",7,3.5],["r8",8,4.0],["r9",9,None],["r10",100,50.0]]'
# a: 1..9, 100.  Sorted positions 0..9: Q1 at 2.25 = 3.25, Q3 at 6.75 =
#    7.75; IQR 4.5; fences 3.25 - 6.75 = -3.5 and 7.75 + 6.75 = 14.5.
# x: finite values 0.5 1 1.5 2.5 3 3.5 4 50 (NaN and nil left out), n 8:
#    Q1 at 1.75 = 1 + 0.75 * 0.5 = 1.375, Q3 at 5.25 = 3.5 + 0.25 * 0.5
#    = 3.625; IQR 2.25; fences 1.375 - 3.375 = -2 and 3.625 + 3.375 = 7.

run sluice-outliers -o "$T/o.sl" "$T/in.sl"
ok_rc "iqr clip (the defaults) runs" 0
is "a clipped to 14.5, and so float" "$(col "$T/o.sl" a)" "1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0 9.0 14.5"
is "x clipped to 7; NaN and nil untouched" "$(col "$T/o.sl" x)" "0.5 1.0 1.5 NaN 2.5 3.0 3.5 4.0 null 7.0"
is "counts and the type change on stderr" "$(cat "$T/err")" \
'sluice-outliers: field "a" (int) becomes float: its fences -3.5 and 14.5 are not whole numbers (--round keeps it int)
sluice-outliers: 10 records; outliers clipped: a 0 low 1 high, x 0 low 1 high'
is "counts in lineage" "$(hdr "$T/o.sl" 'h["lineage"][-1]["counts"]')" \
	"{'records': 10, 'dropped': 0, 'clipped': {'a': 1, 'x': 1}}"
is "types: only a changes" "$(hdr "$T/o.sl" 'h["fields"]')" "[['id', 'str'], ['a', 'float'], ['x', 'float']]"

run sluice-outliers --round -o "$T/o.sl" "$T/in.sl"
is "--round: a clipped to 14, still int" "$(col "$T/o.sl" a)" "1 2 3 4 5 6 7 8 9 14"
run sluice-outliers --k 3 -o "$T/o.sl" "$T/in.sl"
# k 3: a's fences 3.25 - 13.5 = -10.25, 7.75 + 13.5 = 21.25
is "--k 3 moves the fences" "$(col "$T/o.sl" a)" "1.0 2.0 3.0 4.0 5.0 6.0 7.0 8.0 9.0 21.25"

run sluice-outliers --action drop -o "$T/o.sl" "$T/in.sl"
is "drop: the record goes" "$(col "$T/o.sl" id)" '"r1" "r2" "r3" "r4" "r5" "r6" "r7" "r8" "r9"'
is "drop: nothing else changes, a stays int" "$(col "$T/o.sl" a)" "1 2 3 4 5 6 7 8 9"
is "drop: counts" "$(cat "$T/err")" "sluice-outliers: 10 records, 1 dropped; outliers found: a 0 low 1 high, x 0 low 1 high"
run sluice-outliers --action flag -o "$T/o.sl" "$T/in.sl"
is "flag: values kept" "$(col "$T/o.sl" a)" "1 2 3 4 5 6 7 8 9 100"
is "flag: a_outlier" "$(col "$T/o.sl" a_outlier)" "false false false false false false false false false true"
is "flag: flag fields after the input's" "$(hdr "$T/o.sl" '[f[0] for f in h["fields"]]')" \
	"['id', 'a', 'x', 'a_outlier', 'x_outlier']"
run sluice-outliers --action missing --fields x -o "$T/o.sl" "$T/in.sl"
is "missing: the outlier becomes nil" "$(col "$T/o.sl" x)" "0.5 1.0 1.5 NaN 2.5 3.0 3.5 4.0 null null"
is "missing: other fields untouched" "$(col "$T/o.sl" a)" "1 2 3 4 5 6 7 8 9 100"

# z-score: population std, computed in Python
want=$($PY -c '
import math
a = list(range(1, 10)) + [100]
m = sum(a) / len(a); s = math.sqrt(sum((v - m) ** 2 for v in a) / len(a))
print(repr(m + 2 * s))')
run sluice-outliers --z 2 --fields a -o "$T/o.sl" "$T/in.sl"
is "zscore: 100 clipped to mean + 2 std" "$(col "$T/o.sl" a | awk '{print $10}')" "$want"
run sluice-outliers --method zscore --fields a --action flag -o "$T/o.sl" "$T/in.sl"
is "zscore z 3 (the default): 100 is within 14.5 + 3 * 28.6" "$(col "$T/o.sl" a_outlier)" \
	"false false false false false false false false false false"

# fit on train, apply to test
mk "$T/test.sl" "$F" '[["t1",20,-inf],["t2",-10,7.5],["t3",5,None]]'
run sluice-outliers --fit "$T/state.sl" -o "$T/tr.sl" "$T/in.sl"
ok_rc "--fit runs" 0
run sluice-outliers --apply "$T/state.sl" -o "$T/te.sl" "$T/test.sl"
ok_rc "--apply runs" 0
is "apply: the training fences of a" "$(col "$T/te.sl" a)" "14.5 -3.5 5.0"
is "apply: -inf is an outlier too" "$(col "$T/te.sl" x)" "-2.0 7.0 null"
is "apply: counts to stderr" "$(tail -n 1 "$T/err")" \
	"sluice-outliers: 3 records; outliers clipped: a 1 low 1 high, x 1 low 1 high"
run sluice-outliers --apply "$T/state.sl" --action flag -o "$T/te.sl" "$T/test.sl"
is "apply with another action" "$(col "$T/te.sl" x_outlier)" "true true false"
if [ -x "$B/bin/sluice-cat" ]; then
	is "the state is a stream sluice-cat shows" "$(sluice-cat --json "$T/state.sl")" \
'{"field":"a","type":"int","method":"iqr","lo":-3.5,"hi":14.5,"q1":3.25,"q3":7.75,"mean":null,"std":null,"count":10}
{"field":"x","type":"float","method":"iqr","lo":-2.0,"hi":7.0,"q1":1.375,"q3":3.625,"mean":null,"std":null,"count":8}'
else
	pass "# skip: no sluice-cat"
fi
is "the state's header" "$(hdr "$T/state.sl" '(h["state"], h["params"])')" \
	"('sluice-outliers', {'method': 'iqr', 'k': 1.5, 'action': 'clip', 'round': False})"
run sluice-outliers --fit-only "$T/state2.sl" "$T/in.sl"
is "--fit-only: the same fences" "$(col "$T/state2.sl" lo) $(col "$T/state2.sl" hi)" \
	"$(col "$T/state.sl" lo) $(col "$T/state.sl" hi)"
is "--fit-only: the fences on stderr" "$(cat "$T/err")" \
	"sluice-outliers: fitted iqr fences on 10 records: a [-3.5, 14.5], x [-2.0, 7.0]"
mk "$T/nan.sl" '[["x","float"]]' '[[None],[nan]]'
run sluice-outliers --fit-only "$T/st3.sl" "$T/nan.sl"
is "no finite values: no fences" "$(col "$T/st3.sl" lo) $(col "$T/st3.sl" count)" "null 0"
run sluice-outliers --apply "$T/st3.sl" -o "$T/o.sl" "$T/test.sl"
is "no fences: nothing is an outlier" "$(col "$T/o.sl" x)" "-Infinity 7.5 null"

# --apply --trailer: the header once more at the end, its lineage entry
# with the counts (trail, tests/lib.sh, reads them back).
# asline FILE: the trailer's counts written as the stderr line is
asline() {
	$PY -c 'import msgpack,sys
c = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))[-1]["lineage"][-1]["counts"]
act = [k for k in ("outliers", "clipped", "flagged", "blanked") if k in c][0]
s = "sluice-outliers: %d records" % c["records"]
if act == "outliers": s += ", %d dropped" % c["dropped"]
s += "; outliers %s:" % {"outliers": "found", "blanked": "made missing"}.get(act, act)
f = ["%s %d low %d high" % (k, c["low"][k], c["high"][k]) for k in c[act]]
assert all(c[act][k] == c["low"][k] + c["high"][k] for k in c[act])
print(s + " " + ", ".join(f))' "$1"
}
run sluice-outliers --apply "$T/state.sl" --trailer -o "$T/tt.sl" "$T/test.sl"
ok_rc "--apply --trailer runs" 0
is "trailer: the header again at the end, the counts of the run in its lineage" "$(trail "$T/tt.sl")" \
	"True 2 [{'records': 3, 'dropped': 0, 'clipped': {'a': 2, 'x': 2}, 'low': {'a': 1, 'x': 1}, 'high': {'a': 1, 'x': 1}}]"
is "trailer: the numbers stderr gives" "$(asline "$T/tt.sl")" "$(tail -n 1 "$T/err")"
sluice-outliers --apply "$T/state.sl" -o "$T/te.sl" "$T/test.sl" 2>/dev/null
is "trailer: sluice-cat reads the same records" "$(sluice-cat --json "$T/tt.sl")" "$(sluice-cat --json "$T/te.sl")"
# drop: t1 (a 20 high, x -inf low) and t2 (a -10 low, x 7.5 high) go
run sluice-outliers --apply "$T/state.sl" --action drop --trailer -o "$T/tt.sl" "$T/test.sl"
is "trailer of drop: records dropped, outliers per field" "$(trail "$T/tt.sl")" \
	"True 2 [{'records': 3, 'dropped': 2, 'outliers': {'a': 2, 'x': 2}, 'low': {'a': 1, 'x': 1}, 'high': {'a': 1, 'x': 1}}]"
is "trailer of drop: stderr's numbers" "$(asline "$T/tt.sl")" "$(tail -n 1 "$T/err")"
run sluice-outliers --apply "$T/state.sl" --action missing --trailer -o "$T/tt.sl" "$T/in.sl"
is "trailer of missing: a 100 and x 50 blanked" "$(trail "$T/tt.sl")" \
	"True 2 [{'records': 10, 'dropped': 0, 'blanked': {'a': 1, 'x': 1}, 'low': {'a': 0, 'x': 0}, 'high': {'a': 1, 'x': 1}}]"
is "trailer of missing: stderr's numbers" "$(asline "$T/tt.sl")" "$(tail -n 1 "$T/err")"
# a chain: dedup's trailer is the last header outliers reads, so its
# counts carry on into outliers' trailer
mk "$T/dup.sl" "$F" '[["t1",20,-inf],["t1",20,-inf],["t2",-10,7.5],["t3",5,None]]'
sluice-dedup --trailer "$T/dup.sl" 2>/dev/null | sluice-outliers --apply "$T/state.sl" --trailer > "$T/chain.sl" 2>/dev/null
is "a chain of trailers keeps both stages' counts" "$(trail "$T/chain.sl")" \
	"True 2 [{'records': 4, 'kept': 3, 'exact': 1, 'near': 0}, {'records': 3, 'dropped': 0, 'clipped': {'a': 2, 'x': 2}, 'low': {'a': 1, 'x': 1}, 'high': {'a': 1, 'x': 1}}]"
is "a chain: the records as without the trailers" "$(sluice-cat --json "$T/chain.sl")" "$(sluice-cat --json "$T/te.sl")"
trailer_refusals sluice-outliers "$T/state.sl" "$T/in.sl"
fit_lineage sluice-outliers

# determinism
sluice-outliers --fit "$T/s.sl" --action flag -o "$T/d.sl" "$T/in.sl" 2>/dev/null
cp "$T/s.sl" "$T/s.first"; cp "$T/d.sl" "$T/d.first"
sluice-outliers --fit "$T/s.sl" --action flag -o "$T/d.sl" "$T/in.sl" 2>/dev/null
is_file "the same state bytes twice" "$T/s.sl" "$T/s.first"
is_file "the same output bytes twice" "$T/d.sl" "$T/d.first"

# bad usage and bad data
run sluice-outliers --fields nope "$T/in.sl"
ok_rc "unknown field: exit 2" 2
like "unknown field is named" "$(cat "$T/err")" 'no field "nope"'
run sluice-outliers --fields id "$T/in.sl"
ok_rc "a str field: exit 2" 2
run sluice-outliers --k 2 --z 2 "$T/in.sl"
ok_rc "--k and --z: exit 2" 2
run sluice-outliers --k -1 "$T/in.sl"
ok_rc "negative --k: exit 2" 2
run sluice-outliers --action nope "$T/in.sl"
ok_rc "unknown action: exit 2" 2
run sluice-outliers --apply "$T/state.sl" --fields a "$T/test.sl"
ok_rc "--apply with --fields: exit 2" 2
mk "$T/clash.sl" '[["a","int"],["a_outlier","bool"]]' '[[1, False]]'
run sluice-outliers --action flag "$T/clash.sl"
ok_rc "a flag field that exists already: exit 2" 2
run sluice-outliers --apply "$T/in.sl" "$T/test.sl"
ok_rc "a stream that is not a state: exit 1" 1
like "says it is not a state" "$(cat "$T/err")" "in.sl: not a sluice-outliers state"
sluice-impute --fit-only "$T/ist.sl" "$T/in.sl" 2>/dev/null
run sluice-outliers --apply "$T/ist.sl" "$T/test.sl"
ok_rc "an impute state: exit 1" 1
mk "$T/other.sl" '[["id","str"],["a","str"],["x","float"]]' '[["o","1",1.0]]'
run sluice-outliers --apply "$T/state.sl" "$T/other.sl"
ok_rc "apply to a field that is not a number: exit 2" 2
like "names the field" "$(cat "$T/err")" 'field "a" is str'
run sluice-outliers "$TOP/tests/malformed/truncated-record.bin"
ok_rc "malformed input: exit 1" 1
run sluice-outliers -o "$T/none.sl" "$TOP/tests/malformed/wrong-type.bin"
if [ -e "$T/none.sl" ]; then fail "no output file after an error"; else pass "no output file after an error"; fi
# All-float input is held as columns, anything else as encoded records:
# the same numbers either way (an extra str field forces the second way).
awk 'BEGIN { srand(7); print "a,b,s"; for (i = 1; i <= 3000; i++) {
	a = (i % 13 == 0) ? "" : sprintf("%.1f", int(rand() * 1000) - 500)
	b = (i % 17 == 0) ? "" : sprintf("%.3f", rand() * rand() * 100)
	if (i % 101 == 0) b = "1e6"
	print a "," b ",t" i } }' > "$T/cols.csv"
cut -d, -f1,2 "$T/cols.csv" > "$T/cols2.csv"
for args in "sluice-outliers" "sluice-outliers --method zscore --action missing" "sluice-outliers --action drop" "sluice-outliers --action flag --fields b"; do
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

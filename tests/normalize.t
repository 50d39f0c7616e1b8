#!/bin/sh
# sluice-normalize: each scaler and encoder against hand-computed values,
# fit on one stream and apply to another, packing, unseen categories,
# determinism and bad input.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

mk() { # mk FILE 'python list of rows'
	$PY - "$1" "$2" <<'PYEOF'
import msgpack, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["a", "int"], ["c", "str"], ["x", "float"]], "lineage": []}))
    for r in eval(sys.argv[2]):
        f.write(msgpack.packb(r))
PYEOF
}
mk "$T/train.sl" '[[1,"b",0.0],[2,"a",None],[3,"b",1.5],[4,"c",2.0],[10,"a",3.0]]'
mk "$T/test.sl" '[[7,"c",9.0],[-2,"a",None]]'
col() { sluice-cat --json "$1" | $PY -c 'import json,sys; print(" ".join(json.dumps(json.loads(l)[sys.argv[1]]) for l in sys.stdin))' "$2"; }

run sluice-normalize --minmax a -o "$T/o.sl" "$T/train.sl"
ok_rc "minmax runs" 0
is "minmax: (a - 1) / 9" "$(col "$T/o.sl" a)" "0.0 0.1111111111111111 0.2222222222222222 0.3333333333333333 1.0"
run sluice-normalize --minmax a --range -1,1 -o "$T/o.sl" "$T/train.sl"
is "minmax to [-1, 1]" "$(col "$T/o.sl" a)" "-1.0 -0.7777777777777778 -0.5555555555555556 -0.33333333333333337 1.0"
run sluice-normalize --zscore a -o "$T/o.sl" "$T/train.sl"
is "zscore: (a - 4) / sqrt(10), population std" "$(col "$T/o.sl" a)" \
	"$($PY -c 'import math; print(" ".join(repr((v - 4) / math.sqrt(10)) for v in (1, 2, 3, 4, 10)))')"
run sluice-normalize --robust a -o "$T/o.sl" "$T/train.sl"
is "robust: (a - median 3) / IQR 2" "$(col "$T/o.sl" a)" "-1.0 -0.5 0.0 0.5 3.5"
run sluice-normalize --robust x -o "$T/o.sl" "$T/train.sl"
# x = 0, 1.5, 2, 3: median 1.75, quartiles 1.125 and 2.25 (linear), IQR 1.125
is "robust ignores missing values and keeps them missing" "$(col "$T/o.sl" x)" \
	"-1.5555555555555556 null -0.2222222222222222 0.2222222222222222 1.1111111111111112"
run sluice-normalize --log1p x -o "$T/o.sl" "$T/train.sl"
is "log1p" "$(col "$T/o.sl" x)" "$($PY -c 'import math; print(" ".join(repr(math.log1p(v)) for v in (0, 1.5, 2, 3)))' | sed 's/ / null /')"
run sluice-normalize --onehot c -o "$T/o.sl" "$T/train.sl"
is "onehot: one int field per category, sorted" "$(sluice-cat --json --head 2 "$T/o.sl")" \
'{"a":1,"c=a":0,"c=b":1,"c=c":0,"x":0.0}
{"a":2,"c=a":1,"c=b":0,"c=c":0,"x":null}'
run sluice-normalize --ordinal c -o "$T/o.sl" "$T/train.sl"
is "ordinal: sorted codes" "$(col "$T/o.sl" c)" "1 0 1 2 0"
run sluice-normalize "$T/train.sl"
like "default: every number z-scored" "$(sluice-normalize "$T/train.sl" 2>/dev/null | sluice-cat --schema)" "a +float"

# fit on train, apply to test: the test set is scaled by train's numbers
run sluice-normalize --fit "$T/state.sl" --minmax a --onehot c -o "$T/tr.sl" "$T/train.sl"
ok_rc "fit writes a state" 0
is "the state is a stream cat can show" "$(sluice-cat --json "$T/state.sl" | head -n 2)" \
'{"field":"a","method":"minmax","log1p":false,"a":1.0,"b":9.0,"category":null,"code":null}
{"field":"c","method":"onehot","log1p":false,"a":null,"b":null,"category":"a","code":0}'
run sluice-normalize --apply "$T/state.sl" -o "$T/te.sl" "$T/test.sl"
ok_rc "apply runs" 0
is "apply uses the training min and max" "$(col "$T/te.sl" a)" "0.6666666666666666 -0.3333333333333333"
run sluice-normalize --fit-only "$T/state2.sl" --minmax a --onehot c "$T/train.sl"
is "--fit-only writes the same state" "$(sluice-cat --json "$T/state2.sl")" "$(sluice-cat --json "$T/state.sl")"
cp "$T/state.sl" "$T/state1.sl"
sluice-normalize --fit "$T/state.sl" --minmax a --onehot c -o "$T/tr.sl" "$T/train.sl" 2>/dev/null
is_file "same input, same state bytes" "$T/state.sl" "$T/state1.sl"

mk "$T/new.sl" '[[1,"zebra",1.0]]'
run sluice-normalize --apply "$T/state.sl" "$T/new.sl"
ok_rc "unseen category: exit 1 by default" 1
like "unseen category names record and field" "$(cat "$T/err")" 'record 1: field "c": a category not seen'
sluice-normalize --fit "$T/st3.sl" --onehot c --unseen ignore -o /dev/null "$T/train.sl" 2>/dev/null
run sluice-normalize --apply "$T/st3.sl" -o "$T/o.sl" "$T/new.sl"
is "unseen category with --unseen ignore: all zeros" "$(sluice-cat --json "$T/o.sl")" \
	'{"a":1,"c=a":0,"c=b":0,"c=c":0,"x":1.0}'

# packing
mk "$T/full.sl" '[[1,"b",0.5],[3,"a",1.5]]'
run sluice-normalize --minmax a --onehot c --pack feat --pack-exclude x -o "$T/p.sl" "$T/full.sl"
is "pack: numeric fields into one f32 vector" "$(sluice-cat --json "$T/p.sl")" \
'{"x":0.5,"feat":[0.0,0.0,1.0]}
{"x":1.5,"feat":[1.0,1.0,0.0]}'
like "pack: vector type" "$(sluice-cat --schema "$T/p.sl")" "feat +f32\\[3\\]"
run sluice-normalize --pack feat "$T/train.sl"
ok_rc "pack with a missing value: exit 1" 1
like "pack error names the record and field" "$(cat "$T/err")" 'record 2: field "x": a missing value cannot be packed'

# --apply --trailer: the header once more at the end, its lineage entry
# with the counts (trail, tests/lib.sh, reads them back).
# asline FILE: the trailer's counts written as the stderr line is
asline() {
	$PY -c 'import msgpack,sys
c = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))[-1]["lineage"][-1]["counts"]
print("sluice-normalize: %d records, %d fields transformed%s" % (c["records"], len(c["transformed"]), ", features packed" if "packed" in c else ""))' "$1"
}
run sluice-normalize --apply "$T/state.sl" --trailer -o "$T/tt.sl" "$T/test.sl"
ok_rc "--apply --trailer runs" 0
is "trailer: the header again at the end, the counts of the run in its lineage" "$(trail "$T/tt.sl")" \
	"True 2 [{'records': 2, 'transformed': {'a': 2, 'c': 2}, 'methods': {'a': 'minmax', 'c': 'onehot'}, 'unseen': {'c': 0}}]"
is "trailer: the numbers stderr gives" "$(asline "$T/tt.sl")" "$(tail -n 1 "$T/err")"
is "trailer: sluice-cat reads the same records" "$(sluice-cat --json "$T/tt.sl")" "$(sluice-cat --json "$T/te.sl")"
# unseen categories (zebra, yak) are counted, a nil is not transformed
mk "$T/u.sl" '[[1,"zebra",1.0],[2,None,2.0],[3,"b",3.0],[4,"yak",None]]'
run sluice-normalize --apply "$T/st3.sl" --trailer -o "$T/tt.sl" "$T/u.sl"
is "trailer: unseen categories" "$(trail "$T/tt.sl")" \
	"True 2 [{'records': 4, 'transformed': {'c': 3}, 'methods': {'c': 'onehot'}, 'unseen': {'c': 2}}]"
is "trailer with unseen categories: stderr's numbers" "$(asline "$T/tt.sl")" "$(tail -n 1 "$T/err")"
# NaN and nil are not transformed; log1p before a scaler is named
sluice-normalize --fit-only "$T/st4.sl" --log1p x --zscore x,a "$T/train.sl" 2>/dev/null
mk "$T/n.sl" '[[5,"a",float("nan")],[6,"b",None],[None,"c",1.0]]'
run sluice-normalize --apply "$T/st4.sl" --trailer -o "$T/tt.sl" "$T/n.sl"
is "trailer: NaN and nil not counted, log1p+zscore" "$(trail "$T/tt.sl")" \
	"True 2 [{'records': 3, 'transformed': {'x': 1, 'a': 2}, 'methods': {'x': 'log1p+zscore', 'a': 'zscore'}}]"
sluice-normalize --fit-only "$T/st5.sl" --minmax a --onehot c --pack feat --pack-exclude x "$T/full.sl" 2>/dev/null
run sluice-normalize --apply "$T/st5.sl" --trailer -o "$T/tt.sl" "$T/full.sl"
is "trailer: a packing state gives the fields packed" "$(trail "$T/tt.sl")" \
	"True 2 [{'records': 2, 'transformed': {'a': 2, 'c': 2}, 'methods': {'a': 'minmax', 'c': 'onehot'}, 'unseen': {'c': 0}, 'packed': 3}]"
is "trailer with packing: stderr's numbers" "$(asline "$T/tt.sl")" "$(tail -n 1 "$T/err")"
# --fit puts its counts in its output's lineage entry: those that --apply
# --trailer records on the same input with the state it wrote
firstcounts() {
	$PY -c 'import msgpack,sys
print(next(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))["lineage"][-1]["counts"])' "$1"
}
mk "$T/nf.sl" '[[5,"a",float("nan")],[6,"b",None],[None,"c",1.0],[2,"a",3.0]]'
run sluice-normalize --fit "$T/sf.sl" --log1p x --zscore x,a --ordinal c -o "$T/fo.sl" "$T/nf.sl"
is "--fit: counts in the output's lineage, NaN and nil not counted" "$(firstcounts "$T/fo.sl")" \
	"{'records': 4, 'transformed': {'x': 2, 'a': 3, 'c': 4}, 'methods': {'x': 'log1p+zscore', 'a': 'zscore', 'c': 'ordinal'}, 'unseen': {'c': 0}}"
is "--fit: one header, no trailer" "$(nheaders "$T/fo.sl")" "1"
sluice-normalize --apply "$T/sf.sl" --trailer -o "$T/ta.sl" "$T/nf.sl" 2>/dev/null
is "--fit's counts are those --apply --trailer gives" "$(firstcounts "$T/fo.sl")" \
	"$(trail "$T/ta.sl" | sed 's/^True 2 \[\(.*\)\]$/\1/')"
sluice-normalize --fit "$T/sf.sl" --minmax a --onehot c --pack feat --pack-exclude x -o "$T/fo.sl" "$T/full.sl" 2>/dev/null
sluice-normalize --apply "$T/sf.sl" --trailer -o "$T/ta.sl" "$T/full.sl" 2>/dev/null
is "--fit with packing: the counts --apply --trailer gives" "$(firstcounts "$T/fo.sl")" \
	"$(trail "$T/ta.sl" | sed 's/^True 2 \[\(.*\)\]$/\1/')"
run sluice-normalize --fit-only "$T/sf.sl" --zscore a "$T/nf.sl"
is "--fit-only: no stream, no counts line" "$(wc -c < "$T/out") $(cat "$T/err")" "0 "
# a chain: dedup's trailer is the last header normalize reads, so its
# counts carry on into normalize's trailer
mk "$T/dup.sl" '[[7,"c",9.0],[7,"c",9.0],[-2,"a",None]]'
sluice-dedup --trailer "$T/dup.sl" 2>/dev/null | sluice-normalize --apply "$T/state.sl" --trailer > "$T/chain.sl" 2>/dev/null
is "a chain of trailers keeps both stages' counts" "$(trail "$T/chain.sl")" \
	"True 2 [{'records': 3, 'kept': 2, 'exact': 1, 'near': 0}, {'records': 2, 'transformed': {'a': 2, 'c': 2}, 'methods': {'a': 'minmax', 'c': 'onehot'}, 'unseen': {'c': 0}}]"
is "a chain: the records as without the trailers" "$(sluice-cat --json "$T/chain.sl")" "$(sluice-cat --json "$T/te.sl")"
trailer_refusals sluice-normalize "$T/state.sl" "$T/train.sl"
fit_lineage sluice-normalize

# bad usage and input
run sluice-normalize --zscore nope "$T/train.sl"
ok_rc "unknown field: exit 2" 2
run sluice-normalize --zscore c "$T/train.sl"
ok_rc "zscore of a str field: exit 2" 2
run sluice-normalize --apply "$T/train.sl" "$T/test.sl"
ok_rc "a stream that is not a state: exit 1" 1
like "says it is not a state" "$(cat "$T/err")" "not a sluice-normalize state"
run sluice-normalize --apply "$T/state.sl" --zscore a "$T/test.sl"
ok_rc "--apply with a method option: exit 2" 2
run sluice-normalize --range 1,0 "$T/train.sl"
ok_rc "empty range: exit 2" 2
mk "$T/neg.sl" '[[1,"a",-1.0]]'
run sluice-normalize --log1p x "$T/neg.sl"
ok_rc "log1p of -1: exit 1" 1
# All-float input is held as columns, anything else as encoded records:
# the same numbers either way (an extra str field forces the second way).
awk 'BEGIN { srand(7); print "a,b,s"; for (i = 1; i <= 3000; i++) {
	a = (i % 13 == 0) ? "" : sprintf("%.1f", int(rand() * 1000) - 500)
	b = (i % 17 == 0) ? "" : sprintf("%.3f", rand() * rand() * 100)
	if (i % 101 == 0) b = "1e6"
	print a "," b ",t" i } }' > "$T/cols.csv"
cut -d, -f1,2 "$T/cols.csv" > "$T/cols2.csv"
for args in "sluice-normalize" "sluice-normalize --minmax a,b" "sluice-normalize --robust a --log1p b"; do
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

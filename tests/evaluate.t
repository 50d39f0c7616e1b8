#!/bin/sh
# sluice-evaluate and sluice-predict on models written here by hand, in
# Python, from sluice-model(5) alone: predictions against the formulas,
# metrics against hand-computed values (and Python's own log loss and a
# pairwise AUC), and bad input.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

# mkmodel.py FILE KIND: a softmax model over x f32[2] with classes a, b, c
# (W = [[1,0],[0,1],[0,0]]: a when x1 is largest, b when x2, c when both
# are negative), or a linear regression y = 2 x + 1
cat > "$T/mkmodel.py" <<'PYEOF'
import msgpack, struct, sys, zlib
fn, kind = sys.argv[1], sys.argv[2]
def rec(name, shape, vals):
    data = struct.pack("<%df" % len(vals), *vals)
    return msgpack.packb([name, "f32", struct.pack("<%di" % len(shape), *shape), data, zlib.crc32(data)])
fields = [["name", "str"], ["dtype", "str"], ["shape", "i32[]"], ["data", "f32[]"], ["crc32", "int"]]
if kind == "softmax":
    h = {"sluice": 1, "state": "sluice-model",
         "model": {"input": [2, 1, 1], "layers": [{"type": "linear", "out": 3}], "loss": "xent", "outputs": 3},
         "features": [{"name": "x", "type": "f32[2]"}],
         "target": {"name": "label", "type": "str", "task": "classification", "classes": ["a", "b", "c"]},
         "preprocess": {"method": "none"}, "fields": fields, "lineage": []}
    body = rec("fc1.w", [3, 2], [1, 0, 0, 1, 0, 0]) + rec("fc1.b", [3], [0, 0, 0])
else:
    h = {"sluice": 1, "state": "sluice-model",
         "model": {"input": [1, 1, 1], "layers": [{"type": "linear", "out": 1}], "loss": "mse", "outputs": 1},
         "features": [{"name": "x", "type": "float"}],
         "target": {"name": "y", "type": "float", "task": "regression", "outputs": 1},
         "preprocess": {"method": "none"}, "fields": fields, "lineage": []}
    body = rec("fc1.w", [1, 1], [2]) + rec("fc1.b", [1], [1])
open(fn, "wb").write(msgpack.packb(h) + body)
PYEOF
$PY "$T/mkmodel.py" "$T/sm.model" softmax
$PY "$T/mkmodel.py" "$T/lin.model" linear

# six records: four right, one b taken for a, one a taken for c
$PY - "$T/cls.sl" "$T/reg.sl" "$T/nox.sl" <<'PYEOF'
import msgpack, struct, sys
rows = [((2, 0), "a"), ((0, 2), "b"), ((-1, -1), "c"), ((1, 0.5), "b"), ((-1, -2), "a"), ((0.5, 1), "b")]
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["id", "int"], ["label", "str"], ["x", "f32[2]"]], "lineage": []}))
    for i, (x, y) in enumerate(rows):
        f.write(msgpack.packb([i, y, struct.pack("<2f", *x)]))
with open(sys.argv[2], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["x", "float"], ["y", "float"]], "lineage": []}))
    for x, y in [(0, 1.5), (1, 3), (2, 4)]:
        f.write(msgpack.packb([float(x), float(y)]))
with open(sys.argv[3], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["z", "float"], ["label", "str"]], "lineage": []}))
    f.write(msgpack.packb([1.0, "a"]))
PYEOF
# metric.py STREAM METRIC [CLASS [PREDICTED]]: one value of a metrics stream
cat > "$T/metric.py" <<'PYEOF'
import msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
want = (sys.argv[2:] + [None] * 3)[:3]
for r in objs[1:]:
    if r[0] == want[0] and r[1] == want[1] and r[2] == want[2]:
        print(repr(r[3]))
PYEOF
near() { # near NAME GOT WANT TOL
	if $PY -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) <= float(sys.argv[3]) else 1)' "$2" "$3" "$4" 2>/dev/null; then
		pass "$1"
	else
		fail "$1"
		diag "got: $2" "want: $3 (within $4)"
	fi
}

# --- predict
run sluice-predict -o "$T/p.sl" "$T/sm.model" "$T/cls.sl"
ok_rc "predict with a model written by hand" 0
is "predicted classes, records unchanged" "$(sluice-cat --json --fields id,label,pred "$T/p.sl" | tr '\n' ' ')" \
'{"id":0,"label":"a","pred":"a"} {"id":1,"label":"b","pred":"b"} {"id":2,"label":"c","pred":"c"} {"id":3,"label":"b","pred":"a"} {"id":4,"label":"a","pred":"c"} {"id":5,"label":"b","pred":"b"} '
like "probabilities: an f32[3] field" "$(sluice-cat --schema "$T/p.sl")" "pred_prob +f32\\[3\\]"
$PY - "$T/p.sl" > "$T/probcheck" <<'PYEOF'
import math, msgpack, struct, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
worst = 0
for r in objs[1:]:
    x = struct.unpack("<2f", r[2]); p = struct.unpack("<3f", r[4])
    z = [x[0], x[1], 0.0]; m = max(z); e = [math.exp(v - m) for v in z]
    worst = max(worst, max(abs(a - b / sum(e)) for a, b in zip(p, e)))
print(worst < 1e-6)
PYEOF
is "probabilities are the softmax of W x + b" "$(cat "$T/probcheck")" True
run sluice-predict --no-probs --name guess "$T/sm.model" "$T/cls.sl"
is "--name and --no-probs" "$(sluice-cat --schema "$T/out" | grep -c guess)" 1
sluice-predict --batch 1 --threads 1 "$T/sm.model" "$T/cls.sl" > "$T/b1.sl" 2>/dev/null
sluice-predict --batch 4 --threads 2 "$T/sm.model" "$T/cls.sl" > "$T/b4.sl" 2>/dev/null
is "batch size and threads do not change the records" \
	"$($PY -c 'import msgpack,sys; a,b=[list(msgpack.Unpacker(open(f,"rb")))[1:] for f in sys.argv[1:]]; print(a==b)' "$T/b1.sl" "$T/b4.sl")" True
run sluice-predict "$T/lin.model" "$T/reg.sl"
is "regression: 2 x + 1" "$(sluice-cat --json --fields pred "$T/out" | tr '\n' ' ')" \
	'{"pred":1.0} {"pred":3.0} {"pred":5.0} '
cat "$T/cls.sl" "$T/cls.sl" | sluice-predict "$T/sm.model" > "$T/two.sl" 2>/dev/null
is "a second segment with the same fields continues the output" "$(sluice-cat --schema "$T/two.sl" | head -n 1)" \
	"$T/two.sl: segment 1: 5 fields, 12 records"
run sluice-predict "$T/sm.model" "$T/p.sl"
ok_rc "an output field that exists: exit 1" 1
like "says to choose another --name" "$(cat "$T/err")" "choose another --name"
run sluice-predict "$T/sm.model" "$T/nox.sl"
ok_rc "a feature the input lacks: exit 1" 1
like "names it" "$(cat "$T/err")" 'nox.sl: no feature field "x"'
run sluice-predict "$T/lin.model" "$T/cls.sl"
ok_rc "a feature of another type: exit 1" 1
like "names the types" "$(cat "$T/err")" 'feature "x" is f32\[2\] here, the model wants float'
$PY - "$T/sm.model" "$T/bad.model" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-9] ^= 1   # inside fc1.b's data
open(sys.argv[2], "wb").write(b)
PYEOF
run sluice-predict "$T/bad.model" "$T/cls.sl"
ok_rc "a corrupted model: exit 1" 1
like "names the tensor" "$(cat "$T/err")" 'bad.model: record 2: tensor "fc1.b": checksum mismatch'
run sluice-predict "$T/cls.sl" "$T/cls.sl"
ok_rc "a stream that is not a model: exit 1" 1
like "says so" "$(cat "$T/err")" "not a sluice model"
run sluice-predict
ok_rc "no model: exit 2" 2

# --- evaluate: classification, by hand
run sluice-evaluate -o "$T/m.sl" "$T/sm.model" "$T/cls.sl"
ok_rc "evaluate runs" 0
is "accuracy 4/6" "$($PY "$T/metric.py" "$T/m.sl" accuracy)" "0.6666666666666666"
is "precision of a: 1 of 2" "$($PY "$T/metric.py" "$T/m.sl" precision a)" 0.5
is "recall of b: 2 of 3" "$($PY "$T/metric.py" "$T/m.sl" recall b)" "0.6666666666666666"
is "F1 of c: 2 * 0.5 * 1 / 1.5" "$($PY "$T/metric.py" "$T/m.sl" f1 c)" "0.6666666666666666"
near "macro F1: (0.5 + 0.8 + 2/3) / 3" "$($PY "$T/metric.py" "$T/m.sl" f1_macro)" 0.6555555555555556 1e-12
near "weighted recall: (2 * 0.5 + 3 * 2/3 + 1) / 6" "$($PY "$T/metric.py" "$T/m.sl" recall_weighted)" 0.6666666666666666 1e-12
is "support of b" "$($PY "$T/metric.py" "$T/m.sl" support b)" 3.0
is "confusion: one b taken for a" "$($PY "$T/metric.py" "$T/m.sl" confusion b a)" 1.0
is "confusion: one a taken for c" "$($PY "$T/metric.py" "$T/m.sl" confusion a c)" 1.0
$PY - "$T/cls.sl" > "$T/ref" <<'PYEOF'
import math, msgpack, struct, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
X = [struct.unpack("<2f", r[2]) for r in objs[1:]]; Y = ["abc".index(r[1]) for r in objs[1:]]
P = []
for x in X:
    z = [x[0], x[1], 0.0]; e = [math.exp(v) for v in z]; P.append([v / sum(e) for v in e])
print(-sum(math.log(p[y]) for p, y in zip(P, Y)) / len(Y))
aucs = []
for k in range(3):   # pairwise: positives above negatives, ties half
    pos = [p[k] for p, y in zip(P, Y) if y == k]; neg = [p[k] for p, y in zip(P, Y) if y != k]
    aucs.append(sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg) / (len(pos) * len(neg)))
print(sum(aucs) / 3)
print(aucs[1])
PYEOF
near "log loss, as Python computes it" "$($PY "$T/metric.py" "$T/m.sl" log_loss)" "$(sed -n 1p "$T/ref")" 1e-6
near "macro AUC, by counting pairs" "$($PY "$T/metric.py" "$T/m.sl" auc_macro)" "$(sed -n 2p "$T/ref")" 1e-6
near "AUC of b" "$($PY "$T/metric.py" "$T/m.sl" auc b)" "$(sed -n 3p "$T/ref")" 1e-6
run sluice-evaluate --report "$T/sm.model" "$T/cls.sl"
ok_rc "--report" 0
like "the report has the accuracy" "$(cat "$T/out")" "accuracy +0.6667 +6"
like "and the confusion matrix" "$(cat "$T/out")" "b +1 +2 +0"

# --- evaluate: regression, by hand
run sluice-evaluate -o "$T/r.sl" "$T/lin.model" "$T/reg.sl"
near "MSE (0.25 + 0 + 1) / 3" "$($PY "$T/metric.py" "$T/r.sl" mse)" 0.4166666666666667 1e-12
near "MAE 1.5 / 3" "$($PY "$T/metric.py" "$T/r.sl" mae)" 0.5 1e-12
near "R^2 1 - 1.25 / (19/6)" "$($PY "$T/metric.py" "$T/r.sl" r2)" 0.6052631578947368 1e-12
near "RMSE" "$($PY "$T/metric.py" "$T/r.sl" rmse)" 0.6454972243679028 1e-12

# --- plots
run sluice-evaluate --svg-confusion "$T/c.svg" --svg-roc "$T/roc.svg" -o /dev/null "$T/sm.model" "$T/cls.sl"
ok_rc "SVG plots" 0
is "both are well-formed XML" "$($PY -c 'import sys, xml.dom.minidom as m; [m.parse(f) for f in sys.argv[1:]]; print("yes")' "$T/c.svg" "$T/roc.svg")" yes
like "the heat map holds the counts" "$(cat "$T/c.svg")" ">2</text>"

# --- bad input
$PY - "$T/unk.sl" <<'PYEOF'
import msgpack, struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["x", "f32[2]"], ["label", "str"]], "lineage": []}))
    f.write(msgpack.packb([struct.pack("<2f", 1, 0), "a"]))
    f.write(msgpack.packb([struct.pack("<2f", 1, 0), "zebra"]))
PYEOF
run sluice-evaluate "$T/sm.model" "$T/unk.sl"
ok_rc "a class the model does not know: exit 1" 1
like "names record and field" "$(cat "$T/err")" 'unk.sl: record 2: field "label": a class the model was not trained on'
run sluice-evaluate "$T/sm.model" "$T/nox.sl"
ok_rc "no features: exit 1" 1
run sluice-evaluate --svg-curves "$T/x.svg" "$T/sm.model" "$T/cls.sl"
ok_rc "--svg-curves without --log: exit 2" 2
run sluice-evaluate --field x "$T/sm.model" "$T/cls.sl"
ok_rc "--field (for language models) on a classifier: exit 2" 2
# (language models: tests/lm.t)
done_testing

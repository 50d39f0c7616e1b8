#!/bin/sh
# sluice-train: each model against a value computed independently here
# (exact linear coefficients, the logistic optimum by Newton's method in
# Python), determinism, resume after SIGKILL to the same bytes, early
# stopping, the log stream, and bad input.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

# mk.py KIND FILE: small synthetic data sets, seeded
cat > "$T/mk.py" <<'PYEOF'
import msgpack, random, struct, sys, math
kind, fn = sys.argv[1], sys.argv[2]
rnd = random.Random(7)
def hdr(fields, **meta):
    h = {"sluice": 1, "fields": fields}
    h.update(meta)
    h["lineage"] = []
    return msgpack.packb(h)
with open(fn, "wb") as f:
    if kind == "lin":      # y = 2 x1 - 3 x2 + 0.5, exactly
        f.write(hdr([["x1", "float"], ["x2", "float"], ["id", "str"], ["y", "float"]]))
        for i in range(200):
            a, b = rnd.gauss(0, 1), rnd.gauss(0, 1)
            f.write(msgpack.packb([a, b, "r%d" % i, 2 * a - 3 * b + 0.5]))
    elif kind == "linraw": # the same relation on unscaled inputs
        f.write(hdr([["x1", "float"], ["x2", "int"], ["y", "float"]]))
        for i in range(200):
            a, b = rnd.gauss(1000, 100), rnd.randrange(0, 50)
            f.write(msgpack.packb([a, b, 0.01 * a - 0.2 * b + 3.0]))
    elif kind == "logit":  # overlapping classes: a finite optimum
        f.write(hdr([["x", "f32[2]"], ["y", "bool"]]))
        for i in range(120):
            y = i % 2 == 0
            a, b = rnd.gauss(1 if y else -0.5, 1.2), rnd.gauss(0.5 if y else 0, 1)
            f.write(msgpack.packb([struct.pack("<2f", a, b), y]))
    elif kind == "blobs":  # three separable classes named by strings
        f.write(hdr([["x", "f32[2]"], ["c", "str"]]))
        for i in range(300):
            k = i % 3
            cx, cy = [(0, 0), (6, 0), (0, 6)][k]
            f.write(msgpack.packb([struct.pack("<2f", cx + rnd.gauss(0, 1), cy + rnd.gauss(0, 1)), "abc"[k]]))
    elif kind == "xor":    # not linearly separable
        f.write(hdr([["a", "float"], ["b", "float"], ["y", "int"]]))
        for i in range(400):
            a, b = rnd.uniform(-1, 1), rnd.uniform(-1, 1)
            if abs(a) < 0.1 or abs(b) < 0.1:
                continue
            f.write(msgpack.packb([a, b, int((a > 0) != (b > 0))]))
    elif kind == "bars":   # 6x6 images: a horizontal or a vertical bar
        f.write(hdr([["img", "u8[36]"], ["label", "int"]], image_shape=[6, 6]))
        for i in range(200):
            k = i % 2
            px = [rnd.randrange(0, 40) for _ in range(36)]
            p = rnd.randrange(6)
            for j in range(6):
                px[(p * 6 + j) if k == 0 else (j * 6 + p)] = 200 + rnd.randrange(55)
            f.write(msgpack.packb([bytes(px), k]))
    elif kind == "mlp":    # four noisy classes in 20 dimensions
        f.write(hdr([["x", "f32[20]"], ["y", "int"]]))
        for i in range(int(sys.argv[3]) if len(sys.argv) > 3 else 3000):
            k = rnd.randrange(4)
            v = [rnd.gauss(0, 1) + (1.5 if j % 4 == k else 0) for j in range(20)]
            f.write(msgpack.packb([struct.pack("<20f", *v), k]))
PYEOF
for k in lin linraw logit blobs xor bars mlp; do $PY "$T/mk.py" $k "$T/$k.sl"; done
$PY "$T/mk.py" mlp "$T/mlpval.sl" 400

# tensor.py MODEL NAME: the values of one tensor, comma-separated
cat > "$T/tensor.py" <<'PYEOF'
import msgpack, struct, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
names = [f[0] for f in objs[0]["fields"]]
for r in objs[1:]:
    d = dict(zip(names, r))
    if d["name"] == sys.argv[2]:
        print(",".join(repr(x) for x in struct.unpack("<%df" % (len(d["data"]) // 4), d["data"])))
PYEOF
# meta.py MODEL KEY.KEY...: a header value as JSON
cat > "$T/meta.py" <<'PYEOF'
import json, msgpack, sys
h = next(iter(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)))
for k in sys.argv[2].split("."):
    h = h[k]
print(json.dumps(h))
PYEOF
near() { # near NAME GOT WANT TOL: comma-separated numbers, each within TOL
	if $PY -c 'import sys; g=[float(x) for x in sys.argv[1].split(",")]; w=[float(x) for x in sys.argv[2].split(",")]; sys.exit(0 if len(g)==len(w) and all(abs(a-b)<=float(sys.argv[3]) for a,b in zip(g,w)) else 1)' "$2" "$3" "$4"; then
		pass "$1"
	else
		fail "$1"
		diag "got: $2" "want: $3 (within $4)"
	fi
}

# --- linear regression recovers exact coefficients
run sluice-train --target y --model linear --epochs 200 --batch 20 --lr 0.05 --threads 1 -o "$T/lin.model" "$T/lin.sl"
ok_rc "linear regression trains" 0
near "linear: weights 2, -3" "$($PY "$T/tensor.py" "$T/lin.model" fc1.w)" "2,-3" 1e-4
near "linear: bias 0.5" "$($PY "$T/tensor.py" "$T/lin.model" fc1.b)" "0.5" 1e-4
is "str fields are left out of the features" "$($PY "$T/meta.py" "$T/lin.model" features)" \
	'[{"name": "x1", "type": "float"}, {"name": "x2", "type": "float"}]'
is "task inferred: regression" "$($PY "$T/meta.py" "$T/lin.model" target.task)" '"regression"'

# --- standardize: the model carries the scaling and applies to raw records
run sluice-train --target y --standardize --epochs 300 --batch 25 --lr 0.05 --threads 1 -o "$T/raw.model" "$T/linraw.sl"
ok_rc "standardized linear regression trains" 0
is "preprocessing recorded" "$($PY "$T/meta.py" "$T/raw.model" preprocess.method)" '"standardize"'
sluice-predict --threads 1 "$T/raw.model" "$T/linraw.sl" 2>/dev/null | sluice-cat --json > "$T/raw.json"
near "predictions on raw records match y (to 1e-3)" \
	"$($PY -c 'import json,sys; print(max(abs(r["pred"]-r["y"]) for r in map(json.loads, open(sys.argv[1]))))' "$T/raw.json")" 0 1e-3

# --- logistic regression: the optimum of mean log-loss + l2/2 |w|^2,
# found here by Newton's method in plain Python
cat > "$T/newton.py" <<'PYEOF'
import msgpack, struct, sys, math
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
X = [list(struct.unpack("<2f", r[0])) + [1.0] for r in objs[1:]]
Y = [1.0 if r[1] else 0.0 for r in objs[1:]]
lam, n = float(sys.argv[2]), len(X)
w = [0.0, 0.0, 0.0]
for it in range(50):
    g = [0.0] * 3; H = [[0.0] * 3 for _ in range(3)]
    for x, y in zip(X, Y):
        z = sum(a * b for a, b in zip(w, x)); p = 1 / (1 + math.exp(-z))
        for i in range(3):
            g[i] += (p - y) * x[i] / n
            for j in range(3):
                H[i][j] += p * (1 - p) * x[i] * x[j] / n
    for i in range(2):  # the bias is not penalised
        g[i] += lam * w[i]; H[i][i] += lam
    # solve H d = g (Gauss-Jordan)
    A = [H[i] + [g[i]] for i in range(3)]
    for c in range(3):
        p = max(range(c, 3), key=lambda r: abs(A[r][c])); A[c], A[p] = A[p], A[c]
        for r in range(3):
            if r != c:
                f = A[r][c] / A[c][c]
                A[r] = [a - f * b for a, b in zip(A[r], A[c])]
    w = [w[i] - A[i][3] / A[i][i] for i in range(3)]
print("%.6f,%.6f,%.6f" % tuple(w))
PYEOF
want=$($PY "$T/newton.py" "$T/logit.sl" 0.01)
run sluice-train --target y --model logistic --optim sgd --lr 1 --l2 0.01 --epochs 3000 --batch 120 --threads 1 -o "$T/logit.model" "$T/logit.sl"
ok_rc "logistic regression trains" 0
near "logistic: weights and bias at Newton's optimum ($want)" \
	"$($PY "$T/tensor.py" "$T/logit.model" fc1.w),$($PY "$T/tensor.py" "$T/logit.model" fc1.b)" "$want" 1e-4
is "bool target: classes false, true" "$($PY "$T/meta.py" "$T/logit.model" target.classes)" '[false, true]'

# --- softmax, SVM, MLP and CNN learn what they should
run sluice-train --target c --model softmax --epochs 30 --batch 30 --lr 0.05 --val "$T/blobs.sl" -o "$T/sm.model" "$T/blobs.sl"
ok_rc "softmax regression trains" 0
near "softmax separates three blobs" "$($PY "$T/meta.py" "$T/sm.model" metrics.val_accuracy)" 1 0.02
is "str classes in sorted order" "$($PY "$T/meta.py" "$T/sm.model" target.classes)" '["a", "b", "c"]'
run sluice-train --target c --model svm --epochs 30 --batch 30 --lr 0.05 --val "$T/blobs.sl" -o "$T/svm.model" "$T/blobs.sl"
near "linear SVM separates three blobs" "$($PY "$T/meta.py" "$T/svm.model" metrics.val_accuracy)" 1 0.02
is "SVM: hinge loss" "$($PY "$T/meta.py" "$T/svm.model" model.loss)" '"hinge"'
run sluice-train --target y --model softmax --epochs 50 --lr 0.05 --val "$T/xor.sl" -o "$T/xl.model" "$T/xor.sl"
xl=$($PY "$T/meta.py" "$T/xl.model" metrics.val_accuracy)
run sluice-train --target y --model mlp --hidden 16,8 --activation tanh --epochs 80 --batch 16 --lr 0.01 --val "$T/xor.sl" -o "$T/xor.model" "$T/xor.sl"
ok_rc "MLP trains" 0
near "MLP learns XOR (a linear model: $xl)" "$($PY "$T/meta.py" "$T/xor.model" metrics.val_accuracy)" 1 0.03
run sluice-train --target label --model cnn --conv 4 --scale 1/255 --epochs 15 --batch 20 --lr 0.01 --val "$T/bars.sl" -o "$T/cnn.model" "$T/bars.sl"
ok_rc "CNN trains (shape from the header's image_shape)" 0
is "CNN layers" "$($PY -c 'import json,sys; print(" ".join(l["type"] for l in json.loads(sys.argv[1])))' "$($PY "$T/meta.py" "$T/cnn.model" model.layers)")" \
	"conv2d relu maxpool2d linear"
near "CNN tells horizontal from vertical bars" "$($PY "$T/meta.py" "$T/cnn.model" metrics.val_accuracy)" 1 0.02
is "--scale 1/255 recorded" "$($PY "$T/meta.py" "$T/cnn.model" preprocess.factor)" "0.00392156862745098"

# --- --steps instead of --epochs: 7 steps of 20 records (an epoch is 10)
run sluice-train --target y --model linear --steps 7 --batch 20 --threads 1 -o "$T/st.model" "$T/lin.sl"
ok_rc "--steps trains" 0
is "--steps: steps taken and epochs recorded" "$($PY "$T/meta.py" "$T/st.model" metrics.steps) $($PY "$T/meta.py" "$T/st.model" metrics.epochs) $($PY "$T/meta.py" "$T/st.model" train.steps)" "7 0.7 7"

# --- a trailer in the training stream: no records, its counts in the
# model's lineage (the last header that tells of the same stages)
sluice-dedup --trailer "$T/lin.sl" 2>/dev/null > "$T/lint.sl"
run sluice-train --target y --model linear --steps 7 --batch 20 --threads 1 -o "$T/tr.model" "$T/lint.sl"
ok_rc "training on a stream that ends in a trailer" 0
dedup_counts "the model's lineage has dedup's counts" "$T/tr.model" "$T/lint.sl"
is "... and the weights of the same records without it" \
	"$($PY "$T/meta.py" "$T/tr.model" metrics.steps) $(sluice-cat --json "$T/tr.model" | md5sum)" \
	"7 $(sluice-dedup "$T/lin.sl" 2>/dev/null | sluice-train --target y --model linear --steps 7 --batch 20 --threads 1 2>/dev/null | sluice-cat --json | md5sum)"

# --- determinism: same seed and threads, same bytes; another seed differs
ARGS="--target y --model mlp --hidden 32 --dropout 0.2 --epochs 3 --batch 32 --seed 5"
# (to two paths: where the model goes is not in its lineage)
sluice-train $ARGS --threads 2 -o "$T/d.model" "$T/mlp.sl" 2>/dev/null
sluice-train $ARGS --threads 2 -o "$T/d1.model" "$T/mlp.sl" 2>/dev/null
is_file "same seed and threads: byte-identical model, wherever written" "$T/d.model" "$T/d1.model"
sluice-train $ARGS --threads 2 "$T/mlp.sl" 2>/dev/null > "$T/d3.model"
cat "$T/mlp.sl" | sluice-train $ARGS --threads 2 2>/dev/null > "$T/d4.model"
$PY - "$T/d3.model" "$T/d4.model" > "$T/pipecmp" <<'PYEOF'
import msgpack, sys
a, b = [list(msgpack.Unpacker(open(f, "rb"), raw=False)) for f in sys.argv[1:]]
print(a[1:] == b[1:] and a[0]["metrics"] == b[0]["metrics"])
PYEOF
is "training from a pipe: the same weights" "$(cat "$T/pipecmp")" True
sluice-train $ARGS --threads 2 --seed 6 -o "$T/d6.model" "$T/mlp.sl" 2>/dev/null
if cmp -s "$T/d1.model" "$T/d6.model"; then fail "another seed gives another model"; else pass "another seed gives another model"; fi
sluice-train $ARGS --threads 1 -o "$T/d5.model" "$T/mlp.sl" 2>/dev/null
near "one thread: the same training loss to 1e-4" "$($PY "$T/meta.py" "$T/d5.model" metrics.train_loss)" \
	"$($PY "$T/meta.py" "$T/d1.model" metrics.train_loss)" 1e-4

# --- SIGKILL mid-run, resume from the checkpoint: the same model bytes
ARGS="--target y --model mlp --hidden 64 --dropout 0.1 --epochs 60 --batch 16 --threads 2 --seed 3 --val $T/mlpval.sl"
sluice-train $ARGS -o "$T/k.model" "$T/mlp.sl" 2>/dev/null
mv "$T/k.model" "$T/full.model"
sluice-train $ARGS --checkpoint "$T/ck.sl" --checkpoint-every 200 -o "$T/k.model" "$T/mlp.sl" 2>/dev/null &
pid=$!
i=0
while [ ! -f "$T/ck.sl" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -f "$T/ck.sl" ] && [ ! -f "$T/k.model" ]; then pass "killed mid-run with a checkpoint written"; else fail "killed mid-run with a checkpoint written"; fi
step=$($PY "$T/meta.py" "$T/ck.sl" checkpoint.step)
run sluice-train $ARGS --checkpoint "$T/ck.sl" --checkpoint-every 200 --resume "$T/ck.sl" -o "$T/k.model" "$T/mlp.sl"
ok_rc "resumes from step $step" 0
is_file "resumed run: the same model bytes as an uninterrupted one" "$T/k.model" "$T/full.model"
if [ -f "$T/ck.sl" ]; then fail "a finished run removes its checkpoint"; else pass "a finished run removes its checkpoint"; fi
sluice-train $ARGS --checkpoint "$T/ck2.sl" --checkpoint-every 100 -o "$T/k2.model" "$T/mlp.sl" 2>/dev/null &
pid=$!
while [ ! -f "$T/ck2.sl" ]; do sleep 0.01; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
run sluice-train $ARGS --lr 0.5 --resume "$T/ck2.sl" -o "$T/k2.model" "$T/mlp.sl"
ok_rc "resuming with other settings: exit 2" 2
like "says which setting differs" "$(cat "$T/err")" 'other settings or data \(its "train" differs\)'
run sluice-predict "$T/ck2.sl" "$T/mlpval.sl"
ok_rc "a checkpoint is a model file too" 0

# --- early stopping and the log
run sluice-train --target y --model mlp --hidden 128 --epochs 200 --batch 8 --lr 0.01 --val "$T/mlpval.sl" --metric loss --patience 3 --log "$T/log.sl" -o "$T/es.model" "$T/mlp.sl"
ok_rc "early stopping run" 0
is "stopped early" "$($PY "$T/meta.py" "$T/es.model" metrics.stopped_early)" true
steps=$($PY "$T/meta.py" "$T/es.model" metrics.steps)
best=$($PY "$T/meta.py" "$T/es.model" metrics.best_step)
is "stopped three evaluations after the best" "$steps" "$((best + 3 * 375))"
$PY - "$T/log.sl" "$T/es.model" > "$T/logcheck" <<'PYEOF'
import msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
names = [f[0] for f in objs[0]["fields"]]
recs = [dict(zip(names, r)) for r in objs[1:]]
steps = [r for r in recs if r["event"] == "step"]
evals = [r for r in recs if r["event"] == "eval"]
m = next(iter(msgpack.Unpacker(open(sys.argv[2], "rb"), raw=False)))["metrics"]
print(len(steps), len(evals), objs[0]["metric"])
print(min(e["val_metric"] for e in evals) == m["val_loss"])
PYEOF
is "log: one record per step and per evaluation" "$(head -n 1 "$T/logcheck")" "$steps $((steps / 375)) loss"
is "the model keeps the best validation loss" "$(sed -n 2p "$T/logcheck")" True

# --- bad usage and bad input
run sluice-train "$T/lin.sl"
ok_rc "no --target: exit 2" 2
run sluice-train --target nope -o "$T/x.model" "$T/lin.sl"
ok_rc "a target the input lacks: exit 1" 1
like "names the input and the field" "$(cat "$T/err")" "lin.sl: no target field \"nope\""
run sluice-train --target y --features id -o "$T/x.model" "$T/lin.sl"
ok_rc "a str feature: exit 2" 2
run sluice-train --target c --model logistic -o "$T/x.model" "$T/blobs.sl"
ok_rc "logistic on three classes: exit 2" 2
like "suggests softmax" "$(cat "$T/err")" "use --model softmax"
run sluice-train --target y --model linear -o "$T/x.model" "$T/xor.sl"
ok_rc "linear regression on classes: exit 2" 2
run sluice-train --target y --model cnn -o "$T/x.model" "$T/lin.sl"
ok_rc "cnn without a shape: exit 2" 2
run sluice-train --target y --optim lbfgs -o "$T/x.model" "$T/lin.sl"
ok_rc "unknown optimizer: exit 2" 2
run sluice-train --target y --steps 10 --epochs 2 -o "$T/x.model" "$T/lin.sl"
ok_rc "--steps and --epochs together: exit 2" 2
run sluice-train --target y --context 8 -o "$T/x.model" "$T/lin.sl"
ok_rc "a language-model option on another model: exit 2" 2
$PY - "$T/nan.sl" <<'PYEOF'
import msgpack, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["x", "float"], ["y", "float"]], "lineage": []}))
    f.write(msgpack.packb([1.0, 2.0]))
    f.write(msgpack.packb([float("nan"), 3.0]))
    f.write(msgpack.packb([2.0, None]))
PYEOF
run sluice-train --target y -o "$T/x.model" "$T/nan.sl"
ok_rc "NaN feature: exit 1" 1
like "names record and field" "$(cat "$T/err")" 'nan.sl: record 2: field "x": a NaN or infinite value'
head -c 40 "$T/nan.sl" > "$T/cut.sl"
run sluice-train --target y -o "$T/x.model" "$T/cut.sl"
ok_rc "truncated input: exit 1" 1
run sluice-train --target y --lr 1e5 --optim sgd --epochs 50 -o "$T/x.model" "$T/lin.sl"
ok_rc "a diverging run stops with exit 1" 1
like "says so" "$(cat "$T/err")" "training diverged"
if [ -f "$T/x.model" ]; then fail "no model is left behind by a failed run"; else pass "no model is left behind by a failed run"; fi
done_testing

#!/bin/sh
# bench/fmnist.sh - sluice-train beside PyTorch (and scikit-learn) on
# Fashion-MNIST, in one run, interleaved, with the same data, model,
# optimiser, batch size and thread counts.
#
#   MLP 784-256-128-10 ReLU, Adam 1e-3, batch 128, 10 epochs, pixels / 255:
#     PyTorch (../shared/bench/fmnist_torch.py) at 1 thread and at 2
#     (OMP_WAIT_POLICY=passive, its best 2-thread setting) against
#     sluice-train --threads 1 and --threads 2
#   CNN conv16-pool-conv32-pool-linear (20,490 parameters), 5 epochs
#     (CNN=1): the same, at 1 thread and at 2 (PyTorch passive)
#   softmax regression (SKLEARN=1): scikit-learn's LogisticRegression
#     (lbfgs, 100 iterations, ../shared/bench/fmnist_sklearn.py) against
#     sluice-train --model softmax
#
# Reported: the median training time per epoch over all epochs of all
# repetitions (min-max), the final test accuracy, and sluice's time as a
# ratio of PyTorch's.  Timings on a shared 2-core VM swing by 20% or
# more: compare within one run, and repeat (REPS).
#
#   bench/fmnist.sh                 MLP, REPS=2
#   CNN=1 SKLEARN=1 bench/fmnist.sh everything (about 15 minutes)
#   CORETYPE=native ...             every run with the OpenBLAS kernels
#     OpenBLAS picks for this CPU (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
#     unset for this script; see bench/gpt.sh on why our machines set them)
#   CORETYPE=NAME ...               every run with OpenBLAS's kernels NAME
#
# Needs python3-torch (apt-get install python3-torch), python3-sklearn for
# SKLEARN=1, dataset-fashion-mnist, and a build (make).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SLUICE_BIN:-$TOP/build/bin}
ANCHORS=${SHARED_BENCH:-$TOP/../shared/bench}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
OUT=${OUT:-$TOP/bench/out/fmnist}
REPS=${REPS:-2}
CNN=${CNN:-0}
SKLEARN=${SKLEARN:-0}
PY=/usr/bin/python3
case "${CORETYPE:-}" in
"") ;;
native) unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE ;;
*) export OPENBLAS_CORETYPE="$CORETYPE" ;;
esac

mkdir -p "$OUT"
[ -f "$OUT/train.sl" ] || "$BIN/sluice-ingest" --format idx --labels "$DATA/train-labels-idx1-ubyte.gz" \
	-o "$OUT/train.sl" "$DATA/train-images-idx3-ubyte.gz"
[ -f "$OUT/test.sl" ] || "$BIN/sluice-ingest" --format idx --labels "$DATA/t10k-labels-idx1-ubyte.gz" \
	-o "$OUT/test.sl" "$DATA/t10k-images-idx3-ubyte.gz"
: > "$OUT/runs.txt"
uptime > "$OUT/load.txt"
printf '#include <stdio.h>\nchar *openblas_get_corename(void);\nint main(void) { puts(openblas_get_corename()); return 0; }\n' \
	> "$OUT/corename.c"
cc -o "$OUT/corename" "$OUT/corename.c" -lopenblas
echo "OpenBLAS kernels: $("$OUT/corename")" >> "$OUT/load.txt"

# sluice NAME THREADS REP ARGS...: trains, evaluates on the test set, and
# appends "NAME epoch-seconds... acc=ACC" to runs.txt
sluice() {
	name=$1 t=$2 rep=$3
	shift 3
	"$BIN/sluice-train" --target label --scale 1/255 --batch 128 --lr 1e-3 --optim adam \
		--seed 0 --threads "$t" --progress "$@" -o "$OUT/$name.model" "$OUT/train.sl" \
		2> "$OUT/$name-r$rep.log"
	"$BIN/sluice-evaluate" --threads "$t" -o "$OUT/$name.metrics.sl" "$OUT/$name.model" "$OUT/test.sl" 2>/dev/null
	acc=$($PY -c 'import msgpack,sys; print(next(r[3] for r in list(msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False))[1:] if r[0]=="accuracy"))' "$OUT/$name.metrics.sl")
	echo "$name $(sed -n 's/.*(\([0-9.]*\) s).*/\1/p' "$OUT/$name-r$rep.log" | tr '\n' ' ')acc=$acc" >> "$OUT/runs.txt"
	tail -n 1 "$OUT/runs.txt"
}

# torch NAME THREADS REP ARGS...: the anchor, same record format
torch() {
	name=$1 t=$2 rep=$3
	shift 3
	if [ "$t" -gt 1 ]; then export OMP_WAIT_POLICY=passive; fi
	$PY "$ANCHORS/fmnist_torch.py" --threads "$t" --seed 0 --data-dir "$DATA" \
		--json-out "$OUT/$name-r$rep.json" "$@" > "$OUT/$name-r$rep.log" 2>&1
	unset OMP_WAIT_POLICY
	$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], " ".join("%.3f" % e["train_s"] for e in r["per_epoch"]), "acc=%.4f" % r["final_test_acc"])' \
		"$OUT/$name-r$rep.json" "$name" >> "$OUT/runs.txt"
	tail -n 1 "$OUT/runs.txt"
}

MLP="--model mlp --hidden 256,128 --epochs 10"
rep=1
while [ $rep -le "$REPS" ]; do
	torch torch-mlp-t1 1 $rep --model mlp --epochs 10
	sluice sluice-mlp-t2 2 $rep $MLP
	torch torch-mlp-t2 2 $rep --model mlp --epochs 10
	sluice sluice-mlp-t1 1 $rep $MLP
	rep=$((rep + 1))
done
if [ "$CNN" = 1 ]; then
	torch torch-cnn-t2 2 1 --model cnn --epochs 5
	sluice sluice-cnn-t1 1 1 --model cnn --conv 16,32 --epochs 5
	torch torch-cnn-t1 1 1 --model cnn --epochs 5
	sluice sluice-cnn-t2 2 1 --model cnn --conv 16,32 --epochs 5
fi
if [ "$SKLEARN" = 1 ]; then
	OPENBLAS_NUM_THREADS=2 $PY "$ANCHORS/fmnist_sklearn.py" --max-iter 100 --threads 2 \
		--json-out "$OUT/sklearn.json" > "$OUT/sklearn.log" 2>&1
	$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print("sklearn-softmax-t2 %.3f acc=%.4f" % (r["fit_s"], r["test_acc"]))' \
		"$OUT/sklearn.json" >> "$OUT/runs.txt"
	tail -n 1 "$OUT/runs.txt"
	sluice sluice-softmax-t2 2 1 --model softmax --epochs 5 --lr 2e-3
fi

uptime >> "$OUT/load.txt"

# the summary: medians per configuration and ratios, and the machine's
# load at the start and the end of the run
$PY - "$OUT/runs.txt" "$OUT/load.txt" <<'PYEOF' | tee "$OUT/summary.md"
import collections, statistics, sys
runs = collections.defaultdict(lambda: {"t": [], "acc": []})
for line in open(sys.argv[1]):
    w = line.split()
    runs[w[0]]["t"] += [float(x) for x in w[1:-1]]
    runs[w[0]]["acc"].append(float(w[-1][4:]))
med = {k: statistics.median(v["t"]) for k, v in runs.items()}
print("| configuration | s/epoch, median (min-max) | test accuracy | vs PyTorch 1 thread | vs PyTorch 2 threads |")
print("|---|---|---|---|---|")
# scikit-learn's line is one whole fit; sluice's softmax total is its epochs' sum
if "sklearn-softmax-t2" in runs and "sluice-softmax-t2" in runs:
    s, k = runs["sluice-softmax-t2"], runs["sklearn-softmax-t2"]
    print("| softmax regression: sluice %d epochs %.2f s, acc %.4f; scikit-learn lbfgs 100 it %.2f s, acc %.4f; time ratio %.3fx | | | | |" % (
          len(s["t"]), sum(s["t"]), s["acc"][0], k["t"][0], k["acc"][0], sum(s["t"]) / k["t"][0]))
for k, v in runs.items():
    kind = k.split("-")[1]
    r1 = med.get("torch-%s-t1" % kind); r2 = med.get("torch-%s-t2" % kind)
    print("| %s | %.3f (%.3f-%.3f) | %s | %s | %s |" % (k, med[k], min(v["t"]), max(v["t"]),
          " ".join("%.4f" % a for a in sorted(set(v["acc"]))),
          "%.2fx" % (med[k] / r1) if r1 and k.startswith("sluice") else "",
          "%.2fx" % (med[k] / r2) if r2 and k.startswith("sluice") else ""))
print()
lines = open(sys.argv[2]).read().splitlines()
print(lines[1])
for line, when in zip((lines[0], lines[-1]), ("start", "end")):
    print("load at the %s: %s" % (when, line.strip().split("load average: ")[-1]))
PYEOF

#!/usr/bin/python3
"""sluice-evaluate's metrics against scikit-learn's, on the same predictions.

For each case a model is trained with sluice-train, its predictions on a
held-out set are taken from sluice-predict (probabilities, classes, values),
scikit-learn computes its metrics from those predictions, and every number
sluice-evaluate reports is compared with scikit-learn's.  The cases:

  fmnist-softmax   Fashion-MNIST, softmax regression, 10 classes
  fmnist-binary    Fashion-MNIST shirts (6) against T-shirts (0), logistic
  cars-linear      the cars pipeline's Miles_per_Gallon (pipelines/cars),
                   linear regression, if its out/ directory has been built

Prints one line per metric and "all agree" (exit 0) when the largest
difference is below 1e-9 relative (1e-6 for log loss, which scikit-learn
computes from float32 probabilities widened to float64).

usage: bench/evaluate_sklearn.py   (after make; SLUICE_BIN, DATA, OUT may be set)
"""
import os
import struct
import subprocess
import sys

import msgpack
import numpy as np
from sklearn import metrics as skm

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SLUICE_BIN", os.path.join(TOP, "build", "bin"))
DATA = os.environ.get("DATA", "/usr/share/datasets/fashion-mnist")
OUT = os.environ.get("OUT", os.path.join(TOP, "bench", "out", "evaluate"))


def sh(*args, **kw):
    return subprocess.run([os.path.join(BIN, args[0])] + list(args[1:]), check=True,
                          stderr=subprocess.DEVNULL, **kw)


def read(path):
    objs = list(msgpack.Unpacker(open(path, "rb"), raw=False))
    names = [f[0] for f in objs[0]["fields"]]
    return objs[0], [dict(zip(names, r)) for r in objs[1:]]


def ours(path):
    """sluice-evaluate's stream as {(metric, class, predicted): value}."""
    return {(r["metric"], r["class"], r["predicted"]): r["value"] for r in read(path)[1]}


worst = 0.0


def check(name, got, want, tol=1e-9):
    global worst
    d = abs(got - want) / max(1.0, abs(want))
    worst = max(worst, d / tol * 1e-9)
    print("%-28s sluice %.12g  sklearn %.12g  %s" % (name, got, want, "ok" if d <= tol else "DIFFERS"))
    return d <= tol


def classification(case, model_args, filt=None):
    os.makedirs(OUT, exist_ok=True)
    tr, te = os.path.join(OUT, "train.sl"), os.path.join(OUT, "test.sl")
    if not os.path.exists(tr):
        sh("sluice-ingest", "--format", "idx", "--labels", DATA + "/train-labels-idx1-ubyte.gz",
           "-o", tr, DATA + "/train-images-idx3-ubyte.gz")
        sh("sluice-ingest", "--format", "idx", "--labels", DATA + "/t10k-labels-idx1-ubyte.gz",
           "-o", te, DATA + "/t10k-images-idx3-ubyte.gz")
    if filt:  # keep two classes, as bool "is class b"
        for src in (tr, te):
            h, rows = read(src)
            dst = os.path.join(OUT, case + "-" + os.path.basename(src))
            with open(dst, "wb") as f:
                f.write(msgpack.packb({"sluice": 1, "fields": [["image", "u8[784]"], ["label", "bool"]],
                                       "image_shape": [28, 28], "lineage": []}))
                for r in rows:
                    if r["label"] in filt:
                        f.write(msgpack.packb([r["image"], r["label"] == filt[1]]))
        tr, te = [os.path.join(OUT, case + "-" + os.path.basename(p)) for p in (tr, te)]
    model = os.path.join(OUT, case + ".model")
    sh("sluice-train", "--target", "label", "--scale", "1/255", "--seed", "1", *model_args,
       "-o", model, tr)
    pred = os.path.join(OUT, case + ".pred.sl")
    sh("sluice-predict", "-o", pred, model, te)
    met = os.path.join(OUT, case + ".metrics.sl")
    sh("sluice-evaluate", "-o", met, model, te)
    h, rows = read(model)[0], read(pred)[1]
    classes = h["target"]["classes"]
    y = np.array([classes.index(r["label"]) for r in rows])
    P = np.array([struct.unpack("<%df" % len(classes), r["pred_prob"]) for r in rows], dtype=np.float64)
    yhat = np.array([classes.index(r["pred"]) for r in rows])
    m = ours(met)
    lab = [str(c).lower() if isinstance(c, bool) else str(c) for c in classes]
    print("%s: %d records, %d classes" % (case, len(y), len(classes)))
    ok = check("accuracy", m[("accuracy", None, None)], skm.accuracy_score(y, yhat))
    ok &= check("log_loss", m[("log_loss", None, None)], skm.log_loss(y, P, labels=range(len(classes))), 1e-6)
    for avg in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, yhat, average=avg, zero_division=0)
        ok &= check("precision_" + avg, m[("precision_" + avg, None, None)], p)
        ok &= check("recall_" + avg, m[("recall_" + avg, None, None)], r)
        ok &= check("f1_" + avg, m[("f1_" + avg, None, None)], f)
    p, r, f, s = skm.precision_recall_fscore_support(y, yhat, zero_division=0)
    for k, name in enumerate(lab):
        ok &= check("precision " + name, m[("precision", name, None)], p[k])
        ok &= check("recall " + name, m[("recall", name, None)], r[k])
        ok &= check("f1 " + name, m[("f1", name, None)], f[k])
    if len(classes) == 2:
        ok &= check("auc", m[("auc", None, None)], skm.roc_auc_score(y, P[:, 1]))
    else:
        ok &= check("auc_macro", m[("auc_macro", None, None)],
                    skm.roc_auc_score(y, P, multi_class="ovr", average="macro"))
        ok &= check("auc_weighted", m[("auc_weighted", None, None)],
                    skm.roc_auc_score(y, P, multi_class="ovr", average="weighted"))
    cm = skm.confusion_matrix(y, yhat)
    ok &= all(m[("confusion", lab[i], lab[j])] == cm[i, j] for i in range(len(lab)) for j in range(len(lab)))
    print("%-28s %s" % ("confusion matrix", "ok" if ok else "DIFFERS"))
    return ok


def regression():
    cars = os.path.join(TOP, "pipelines", "cars", "out")
    tr, te = os.path.join(cars, "train.ready.sl"), os.path.join(cars, "test.ready.sl")
    if not os.path.exists(tr) or not os.path.exists(te):
        print("cars-linear: skipped (make -C pipelines/cars first)")
        return True
    os.makedirs(OUT, exist_ok=True)
    model, pred, met = [os.path.join(OUT, "cars" + s) for s in (".model", ".pred.sl", ".metrics.sl")]
    sh("sluice-train", "--target", "Miles_per_Gallon", "--features", "x", "--model", "linear",
       "--epochs", "300", "--batch", "32", "--lr", "0.01", "-o", model, tr)
    sh("sluice-predict", "-o", pred, model, te)
    sh("sluice-evaluate", "-o", met, model, te)
    rows = read(pred)[1]
    y = np.array([r["Miles_per_Gallon"] for r in rows], dtype=np.float32).astype(np.float64)
    yhat = np.array([r["pred"] for r in rows])
    m = ours(met)
    print("cars-linear: %d records" % len(y))
    ok = check("mse", m[("mse", None, None)], skm.mean_squared_error(y, yhat))
    ok &= check("rmse", m[("rmse", None, None)], skm.mean_squared_error(y, yhat, squared=False))
    ok &= check("mae", m[("mae", None, None)], skm.mean_absolute_error(y, yhat))
    ok &= check("r2", m[("r2", None, None)], skm.r2_score(y, yhat))
    return ok


ok = classification("fmnist-softmax", ["--model", "softmax", "--epochs", "3", "--lr", "2e-3"])
ok &= classification("fmnist-binary", ["--model", "logistic", "--epochs", "3"], filt=(0, 6))
ok &= regression()
print("all agree" if ok else "SOME DIFFER")
sys.exit(0 if ok else 1)

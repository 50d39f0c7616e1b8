#!/usr/bin/python3
"""sluice-impute and sluice-outliers against scikit-learn and numpy (issue 3).

On a generated data set (int and float fields, about 10% of the values
missing, some as nil and some as NaN) each imputer is fitted on a training
set with --fit, applied to a test set with --apply, and compared with the
same fit and transform in scikit-learn:

    mean, median, mode   SimpleImputer(strategy="mean" / "median" / "most_frequent")
    knn --knn-scale none KNNImputer(n_neighbors=5)
    knn (z-scored)       StandardScaler, then KNNImputer, then back
    regression           LinearRegression of each field on the others, fitted
                         on the complete training rows; the mean where a
                         predictor is missing
    outliers iqr / zscore  numpy's percentile and std fences, clipped

It prints the largest relative difference of each and exits 1 if one is
above 1e-6.  Needs python3-sklearn, python3-numpy and python3-msgpack.

    bench/sklearn_compare.py [BUILD_BIN]
"""
import os
import random
import subprocess
import sys
import tempfile

import msgpack
import numpy as np
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "build", "bin")
rnd = random.Random(7)
FIELDS = [["u", "float"], ["v", "float"], ["w", "int"], ["p", "float"], ["q", "int"]]
INTS = [2, 4]


def rows(n):
    out = []
    for _ in range(n):
        u = rnd.gauss(100, 15)
        v = 0.5 * u + rnd.gauss(20, 5)
        w = int(round(u / 2 + rnd.gauss(0, 6)))
        p = rnd.lognormvariate(2, 0.6)
        q = rnd.choice([3, 3, 5, 7, 7, 7, 11])
        r = [u, v, w, p, q]
        for j in range(5):
            if rnd.random() < 0.1:
                # floats go missing as nil or NaN, ints as nil
                r[j] = float("nan") if j not in INTS and rnd.random() < 0.3 else None
        out.append(r)
    return out


def write(path, data):
    with open(path, "wb") as f:
        f.write(msgpack.packb({"sluice": 1, "fields": FIELDS, "lineage": []}))
        for r in data:
            f.write(msgpack.packb(r))


def read(path):
    objs = list(msgpack.Unpacker(open(path, "rb"), raw=False))
    names = [f[0] for f in objs[0]["fields"]]
    idx = [names.index(f[0]) for f in FIELDS]
    return np.array([[np.nan if r[i] is None else r[i] for i in idx] for r in objs[1:]], float)


def matrix(data):
    return np.array([[np.nan if x is None else x for x in r] for r in data], float)


def relerr(got, want):
    assert got.shape == want.shape, (got.shape, want.shape)
    if np.isnan(got).any() or np.isnan(want).any():
        return float("inf")
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-12)))


def sluice(prog, *args):
    subprocess.run([f"{BIN}/sluice-{prog}", *args], check=True, stderr=subprocess.DEVNULL)


train, test = rows(3000), rows(1000)
d = tempfile.mkdtemp()
write(f"{d}/train.sl", train)
write(f"{d}/test.sl", test)
Xtr, Xte = matrix(train), matrix(test)


def impute(*args):
    """sluice-impute fitted on train, applied to test: (train out, test out)."""
    sluice("impute", "--fit", f"{d}/state.sl", *args, "-o", f"{d}/tr.sl", f"{d}/train.sl")
    sluice("impute", "--apply", f"{d}/state.sl", "-o", f"{d}/te.sl", f"{d}/test.sl")
    return read(f"{d}/tr.sl"), read(f"{d}/te.sl")


checks = {}
for strategy, method in (("mean", "mean"), ("median", "median"), ("most_frequent", "mode")):
    tr, te = impute("--method", method)
    sk = SimpleImputer(strategy=strategy).fit(Xtr)
    checks[f"SimpleImputer {strategy}"] = max(relerr(tr, sk.transform(Xtr)), relerr(te, sk.transform(Xte)))

def knn_ties(X, Xfit, k):
    """Cells of X whose k nearest donors are not unique: the k-th and the
    next donor are equally far (the data has int fields, so exact ties
    happen), or fewer than k donors have a distance at all.  KNNImputer
    breaks such ties by np.argpartition, in no documented order; sluice
    takes the earlier record and never a donor without a distance.  These
    cells are left out of the comparison and counted."""
    ties = np.zeros(X.shape, bool)
    for i, j in np.argwhere(np.isnan(X)):
        donors = Xfit[~np.isnan(Xfit[:, j])]
        both = ~np.isnan(donors) & ~np.isnan(X[i])
        d2 = np.where(both, donors - X[i], 0.0) ** 2
        cnt = both.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            dist = np.sort(np.where(cnt > 0, d2.sum(axis=1) * X.shape[1] / cnt, np.inf))
        finite = np.isfinite(dist).sum()
        if finite == 0:
            continue  # every method falls back to the mean
        if finite < k and len(dist) > finite:
            ties[i, j] = True
        elif finite > k and dist[k] - dist[k - 1] <= 1e-9 * max(dist[k], 1e-300):
            ties[i, j] = True
    return ties


def knn_relerr(got, want, X, ties):
    keep = ~ties
    return relerr(got[keep], want[keep]), int(ties.sum()), int(np.isnan(X).sum())


tied = 0
tr, te = impute("--method", "knn", "--knn-scale", "none")
sk = KNNImputer(n_neighbors=5).fit(Xtr)
e1, t1, n1 = knn_relerr(tr, sk.transform(Xtr), Xtr, knn_ties(Xtr, Xtr, 5))
e2, t2, n2 = knn_relerr(te, sk.transform(Xte), Xte, knn_ties(Xte, Xtr, 5))
checks["KNNImputer (unscaled)"] = max(e1, e2)
notes = [f"KNNImputer (unscaled): {t1 + t2} of {n1 + n2} filled cells have tied neighbours, left out"]

# The float fields alone: continuous values, so no ties; every cell counts.
FL = [0, 1, 3]
with open(f"{d}/trf.sl", "wb") as f, open(f"{d}/tef.sl", "wb") as g:
    for out, data in ((f, train), (g, test)):
        out.write(msgpack.packb({"sluice": 1, "fields": [FIELDS[j] for j in FL], "lineage": []}))
        for r in data:
            out.write(msgpack.packb([r[j] for j in FL]))
sluice("impute", "--fit", f"{d}/fstate.sl", "--method", "knn", "--knn-scale", "none", "-o", f"{d}/trfo.sl", f"{d}/trf.sl")
sluice("impute", "--apply", f"{d}/fstate.sl", "-o", f"{d}/tefo.sl", f"{d}/tef.sl")
Ftr, Fte = Xtr[:, FL], Xte[:, FL]
read_f = lambda path: np.array([[np.nan if x is None else x for x in r]
                                for r in list(msgpack.Unpacker(open(path, "rb"), raw=False))[1:]], float)
sk = KNNImputer(n_neighbors=5).fit(Ftr)
e1, t1, n1 = knn_relerr(read_f(f"{d}/trfo.sl"), sk.transform(Ftr), Ftr, knn_ties(Ftr, Ftr, 5))
e2, t2, n2 = knn_relerr(read_f(f"{d}/tefo.sl"), sk.transform(Fte), Fte, knn_ties(Fte, Ftr, 5))
checks["KNNImputer (float fields only)"] = max(e1, e2)
notes.append(f"KNNImputer (float fields only): {t1 + t2} of {n1 + n2} filled cells have tied neighbours, left out")

tr, te = impute("--method", "knn", "--k", "7")
sc = StandardScaler().fit(Xtr)
Str, Ste = sc.transform(Xtr), sc.transform(Xte)
sk = KNNImputer(n_neighbors=7).fit(Str)
e1, t1, n1 = knn_relerr(tr, sc.inverse_transform(sk.transform(Str)), Xtr, knn_ties(Str, Str, 7))
e2, t2, n2 = knn_relerr(te, sc.inverse_transform(sk.transform(Ste)), Xte, knn_ties(Ste, Str, 7))
checks["StandardScaler + KNNImputer (k 7)"] = max(e1, e2)
notes.append(f"StandardScaler + KNNImputer: {t1 + t2} of {n1 + n2} filled cells have tied neighbours, left out")


def regression(X, Xfit):
    out = X.copy()
    for j in range(X.shape[1]):
        others = [c for c in range(X.shape[1]) if c != j]
        full = ~np.isnan(Xfit).any(axis=1)
        lr = LinearRegression().fit(Xfit[full][:, others], Xfit[full][:, j])
        mean = np.nanmean(Xfit[:, j])
        for i in np.flatnonzero(np.isnan(X[:, j])):
            x = X[i, others]
            out[i, j] = mean if np.isnan(x).any() else lr.predict(x[None, :])[0]
    return out


tr, te = impute("--method", "regression")
checks["LinearRegression on complete rows"] = max(relerr(tr, regression(Xtr, Xtr)), relerr(te, regression(Xte, Xtr)))


def outliers(*args):
    sluice("outliers", "--fit", f"{d}/ostate.sl", *args, "-o", f"{d}/tr.sl", f"{d}/train.sl")
    sluice("outliers", "--apply", f"{d}/ostate.sl", "-o", f"{d}/te.sl", f"{d}/test.sl")
    return read(f"{d}/tr.sl"), read(f"{d}/te.sl")


def clip(X, lo, hi):
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(X), np.nan, np.clip(X, lo, hi))


def nan_relerr(got, want):
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return float("inf")
    m = ~np.isnan(want)
    return relerr(got[m], want[m])


q1, q3 = np.nanpercentile(Xtr, 25, axis=0), np.nanpercentile(Xtr, 75, axis=0)
lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
tr, te = outliers()
checks["IQR fences (numpy percentile)"] = max(nan_relerr(tr, clip(Xtr, lo, hi)), nan_relerr(te, clip(Xte, lo, hi)))
mu, sd = np.nanmean(Xtr, axis=0), np.nanstd(Xtr, axis=0)
tr, te = outliers("--z", "2")
checks["z-score fences (numpy std)"] = max(nan_relerr(tr, clip(Xtr, mu - 2 * sd, mu + 2 * sd)),
                                            nan_relerr(te, clip(Xte, mu - 2 * sd, mu + 2 * sd)))

worst = 0
print(f"{len(train)} training and {len(test)} test records, {np.isnan(Xtr).mean():.1%} missing")
for k, v in checks.items():
    print(f"{k:36s} max relative difference {v:.3g}")
    worst = max(worst, v)
for n in notes:
    print(n)
print("all within 1e-6" if worst <= 1e-6 else "DIFFERENCE ABOVE 1e-6")
sys.exit(0 if worst <= 1e-6 else 1)

#!/usr/bin/python3
"""sluice-normalize against scikit-learn on the same data (issue 3).

Fits MinMaxScaler, StandardScaler, RobustScaler, log1p + StandardScaler,
OneHotEncoder and OrdinalEncoder on a generated training set, applies them
to a test set, does the same with sluice-normalize --fit/--apply, and
prints the largest relative difference per transform.  Exits 1 if any is
above 1e-6.  Needs python3-sklearn and python3-msgpack (Debian).

    bench/sklearn_normalize.py [BUILD_BIN]
"""
import os, random, subprocess, sys, tempfile
import msgpack
import numpy as np
from sklearn.preprocessing import (MinMaxScaler, OneHotEncoder, OrdinalEncoder,
                                   RobustScaler, StandardScaler)

BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "build", "bin")
rnd = random.Random(42)
FIELDS = [["u", "float"], ["v", "float"], ["w", "int"], ["p", "float"], ["cat", "str"], ["k", "int"]]


def rows(n):
    out = []
    for _ in range(n):
        out.append([rnd.gauss(100, 15), rnd.expovariate(0.1), rnd.randrange(-500, 500),
                    rnd.lognormvariate(0, 1.5), rnd.choice(["ant", "bee", "cat", "dog", "eel"]),
                    rnd.choice([3, 7, 11, 42])])
    return out


def write(path, data):
    with open(path, "wb") as f:
        f.write(msgpack.packb({"sluice": 1, "fields": FIELDS, "lineage": []}))
        for r in data:
            f.write(msgpack.packb(r))


def read(path):
    objs = list(msgpack.Unpacker(open(path, "rb"), raw=False))
    names = [f[0] for f in objs[0]["fields"]]
    return names, objs[1:]


def relerr(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


train, test = rows(5000), rows(1000)
d = tempfile.mkdtemp()
write(f"{d}/train.sl", train)
write(f"{d}/test.sl", test)
run = lambda *a: subprocess.run([f"{BIN}/sluice-normalize", *a], check=True, stderr=subprocess.DEVNULL)
run("--fit", f"{d}/state.sl", "--minmax", "u", "--zscore", "v", "--robust", "w",
    "--log1p", "p", "--zscore", "p", "--onehot", "cat", "--ordinal", "k",
    "-o", f"{d}/train_out.sl", f"{d}/train.sl")
run("--apply", f"{d}/state.sl", "-o", f"{d}/test_out.sl", f"{d}/test.sl")
names, got = read(f"{d}/test_out.sl")
col = lambda n: [r[names.index(n)] for r in got]
tr, te = np.array([r[:4] for r in train], float), np.array([r[:4] for r in test], float)
checks = {
    "MinMaxScaler (u)": relerr(col("u"), MinMaxScaler().fit(tr[:, [0]]).transform(te[:, [0]])[:, 0]),
    "StandardScaler (v)": relerr(col("v"), StandardScaler().fit(tr[:, [1]]).transform(te[:, [1]])[:, 0]),
    "RobustScaler (w)": relerr(col("w"), RobustScaler().fit(tr[:, [2]]).transform(te[:, [2]])[:, 0]),
    "log1p + StandardScaler (p)": relerr(col("p"), StandardScaler().fit(np.log1p(tr[:, [3]])).transform(np.log1p(te[:, [3]]))[:, 0]),
}
oh = OneHotEncoder().fit([[r[4]] for r in train])
want = oh.transform([[r[4]] for r in test]).toarray()
gotoh = np.array([[r[names.index(f"cat={c}")] for c in oh.categories_[0]] for r in got])
checks["OneHotEncoder (cat)"] = float(np.max(np.abs(gotoh - want)))
od = OrdinalEncoder().fit([[r[5]] for r in train])
checks["OrdinalEncoder (k)"] = float(np.max(np.abs(np.array(col("k")) - od.transform([[r[5]] for r in test])[:, 0])))
worst = 0
for k, v in checks.items():
    print(f"{k:28s} max relative difference {v:.3g}")
    worst = max(worst, v)
print("all within 1e-6" if worst <= 1e-6 else "DIFFERENCE ABOVE 1e-6")
sys.exit(0 if worst <= 1e-6 else 1)

#!/bin/sh
# Language models: sluice-train --model gpt on token ids and sluice-evaluate
# on the model.  A tiny GPT learns a small generated corpus; the same seed
# gives the same bytes, a run killed with SIGKILL resumes to the same
# bytes; evaluate's loss, perplexity and bits per byte equal a float64
# forward written here in plain Python from the dumped tensors, and a
# model written by hand with all-zero weights scores exactly ln V per
# token; bad input is refused with the record and field named.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

# A corpus of sentences from six two-word phrases (seeded), and a held-out
# part: 15 distinct characters, plus the two specials.
$PY - "$T/corpus.sl" "$T/held.sl" <<'PYEOF'
import msgpack, random, sys
rnd = random.Random(3)
words = ["the cat", "a dog", "sat on", "the mat", "ran to", "my hat"]
for fn, n in ((sys.argv[1], 60), (sys.argv[2], 12)):
    with open(fn, "wb") as f:
        f.write(msgpack.packb({"sluice": 1, "fields": [["id", "int"], ["text", "str"]], "lineage": []}))
        for i in range(n):
            s = " ".join(rnd.choice(words) for _ in range(rnd.randrange(3, 8))) + "."
            f.write(msgpack.packb([i, s]))
PYEOF
sluice-tokenize --char --fit-only "$T/vocab.sl" "$T/corpus.sl" 2>/dev/null
sluice-tokenize --apply "$T/vocab.sl" "$T/corpus.sl" > "$T/ids.sl" 2>/dev/null
sluice-tokenize --apply "$T/vocab.sl" "$T/held.sl" > "$T/heldids.sl" 2>/dev/null

# meta.py MODEL KEY.KEY...: a header value as JSON
cat > "$T/meta.py" <<'PYEOF'
import json, msgpack, sys
h = next(iter(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)))
for k in sys.argv[2].split("."):
    h = h[k]
print(json.dumps(h))
PYEOF
# metric.py STREAM NAME: one value of a metrics stream
cat > "$T/metric.py" <<'PYEOF'
import msgpack, sys
for r in list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))[1:]:
    if r[0] == sys.argv[2]:
        print(repr(r[3]))
PYEOF
near() { # near NAME GOT WANT TOL: space-separated numbers, each within TOL (relative)
	if $PY -c 'import sys; g=[float(x) for x in sys.argv[1].split()]; w=[float(x) for x in sys.argv[2].split()]; sys.exit(0 if len(g)==len(w) and all(abs(a-b)<=float(sys.argv[3])*max(1,abs(b)) for a,b in zip(g,w)) else 1)' "$2" "$3" "$4"; then
		pass "$1"
	else
		fail "$1"
		diag "got: $2" "want: $3 (within $4)"
	fi
}

# --- a tiny GPT learns the corpus
TINY="--model gpt --vocab $T/vocab.sl --layers 2 --heads 2 --embd 32 --context 16 --batch 8 --warmup 20 --lr 3e-3 --threads 1"
run sluice-train $TINY --steps 300 --val "$T/heldids.sl" --eval-every 100 --log "$T/log.sl" -o "$T/lm.sl" "$T/ids.sl"
ok_rc "gpt trains" 0
like "reports tokens, steps and the validation loss" "$(cat "$T/err")" \
	'sluice-train: [0-9]+ tokens, 300 steps, train loss [0-9.]+, val loss [0-9.]+'
$PY - "$T/lm.sl" > "$T/learnt" <<'PYEOF'
import math, msgpack, sys
h = next(iter(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)))
lnV = math.log(h["model"]["vocab_size"])
print(h["metrics"]["train_loss"] < 0.3 * lnV, h["metrics"]["val_loss"] < 0.3 * lnV)
PYEOF
is "train and val loss below 0.3 ln V (ln 17 = 2.83)" "$(cat "$T/learnt")" "True True"
is "the model's architecture" "$($PY "$T/meta.py" "$T/lm.sl" model)" \
	'{"kind": "gpt", "vocab_size": 17, "context": 16, "layers": 2, "heads": 2, "embd": 32, "dropout": 0.0, "parameters": 26528}'
is "the vocabulary's mode, size and end-of-text id" \
	"$($PY "$T/meta.py" "$T/lm.sl" vocab.mode) $($PY "$T/meta.py" "$T/lm.sl" vocab.size) $($PY "$T/meta.py" "$T/lm.sl" vocab.end_of_text)" \
	'"char" 17 15'
$PY - "$T/lm.sl" "$T/vocab.sl" > "$T/vocabcmp" <<'PYEOF'
import io, msgpack, sys
h = next(iter(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)))
a = list(msgpack.Unpacker(io.BytesIO(h["vocab"]["stream"]), raw=False))
b = list(msgpack.Unpacker(open(sys.argv[2], "rb"), raw=False))
print(a == b)
PYEOF
is "the model keeps the vocabulary stream, lineage and all" "$(cat "$T/vocabcmp")" True
is "training config" "$($PY -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["steps"], d["batch"], d["context"], d["optim"], d["beta2"], d["weight_decay"], d["schedule"], d["clip"], d["train_documents"], d["val_documents"])' "$($PY "$T/meta.py" "$T/lm.sl" train)")" \
	"300 8 16 adamw 0.99 0.1 cosine 1.0 60 12"
$PY - "$T/log.sl" > "$T/logcheck" <<'PYEOF'
import msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
names = [f[0] for f in objs[0]["fields"]]
recs = [dict(zip(names, r)) for r in objs[1:]]
print(len([r for r in recs if r["event"] == "step"]), [r["step"] for r in recs if r["event"] == "eval"])
PYEOF
is "log: a record per step, evaluations every 100" "$(cat "$T/logcheck")" "300 [100, 200, 300]"

# --- evaluate: the figures against a float64 forward in plain Python
cat > "$T/ref.py" <<'PYEOF'
# ref.py MODEL IDS: tokens scored, bytes, loss, perplexity, bits per byte of
# a GPT model file on a token stream, by a plain float64 forward pass
import io, math, msgpack, struct, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
h = objs[0]; names = [f[0] for f in h["fields"]]
W = {}
for r in objs[1:]:
    d = dict(zip(names, r))
    shape = struct.unpack("<%di" % (len(d["shape"]) // 4), d["shape"])
    v = struct.unpack("<%df" % (len(d["data"]) // 4), d["data"])
    W[d["name"]] = [list(v[i:i + shape[-1]]) for i in range(0, len(v), shape[-1])] if len(shape) == 2 else list(v)
m = h["model"]; L, NH, C, T = m["layers"], m["heads"], m["embd"], m["context"]
voc = list(msgpack.Unpacker(io.BytesIO(h["vocab"]["stream"]), raw=False))
vn = [f[0] for f in voc[0]["fields"]]
tokbytes = [dict(zip(vn, r))["bytes"] for r in voc[1:]]
eot = h["vocab"]["end_of_text"]
s = list(msgpack.Unpacker(open(sys.argv[2], "rb"), raw=False))
fi = [f[0] for f in s[0]["fields"]].index("ids")
ids = []
for k, r in enumerate(s[1:]):
    if k: ids.append(eot)
    ids += list(struct.unpack("<%dH" % (len(r[fi]) // 2), r[fi]))
def lin(x, w, b):  # x (t,in), w (out,in) -> (t,out)
    return [[sum(a * c for a, c in zip(row, wr)) + (b[o] if b else 0) for o, wr in enumerate(w)] for row in x]
def ln(x, w, b):
    out = []
    for row in x:
        mu = sum(row) / len(row); var = sum((a - mu) ** 2 for a in row) / len(row)
        out.append([(a - mu) / math.sqrt(var + 1e-5) * g + c for a, g, c in zip(row, w, b)])
    return out
def add(x, y):
    return [[a + b for a, b in zip(r, q)] for r, q in zip(x, y)]
def forward(x_ids):
    t = len(x_ids); hs = C // NH
    x = [[a + b for a, b in zip(W["wte"][i], W["wpe"][p])] for p, i in enumerate(x_ids)]
    for l in range(L):
        p = "h.%d." % l
        qkv = lin(ln(x, W[p + "ln1.w"], W[p + "ln1.b"]), W[p + "attn.qkv.w"], W[p + "attn.qkv.b"])
        y = [[0.0] * C for _ in range(t)]
        for hd in range(NH):
            o = hd * hs
            for i in range(t):
                sc = [sum(qkv[i][o + d] * qkv[j][C + o + d] for d in range(hs)) / math.sqrt(hs) for j in range(i + 1)]
                mx = max(sc); e = [math.exp(a - mx) for a in sc]; z = sum(e)
                for d in range(hs):
                    y[i][o + d] = sum(e[j] / z * qkv[j][2 * C + o + d] for j in range(i + 1))
        x = add(x, lin(y, W[p + "attn.proj.w"], W[p + "attn.proj.b"]))
        f = lin(ln(x, W[p + "ln2.w"], W[p + "ln2.b"]), W[p + "mlp.fc.w"], W[p + "mlp.fc.b"])
        f = [[0.5 * a * (1 + math.erf(a / math.sqrt(2))) for a in r] for r in f]
        x = add(x, lin(f, W[p + "mlp.proj.w"], W[p + "mlp.proj.b"]))
    return lin(ln(x, W["lnf.w"], W["lnf.b"]), W["wte"], None)
nats, n = 0.0, 0
for s0 in range(0, len(ids) - 1, T):   # non-overlapping windows, the last short
    y = ids[s0 + 1:s0 + T + 1]; x = ids[s0:s0 + len(y)]
    for row, tgt in zip(forward(x), y):
        mx = max(row)
        nats += math.log(sum(math.exp(a - mx) for a in row)) + mx - row[tgt]; n += 1
nbytes = sum(len(tokbytes[i]) for i in ids[1:] if i != eot)
print("%d %d %.12g %.12g %.12g" % (n, nbytes, nats / n, math.exp(nats / n), nats / math.log(2) / nbytes))
PYEOF
want=$($PY "$T/ref.py" "$T/lm.sl" "$T/heldids.sl")
run sluice-evaluate -o "$T/ev.sl" "$T/lm.sl" "$T/heldids.sl"
ok_rc "evaluate a language model" 0
got=$(for k in tokens bytes loss perplexity bits_per_byte; do $PY "$T/metric.py" "$T/ev.sl" $k; done | tr '\n' ' ')
near "tokens, bytes, loss, perplexity, bits per byte as computed in Python ($want)" "$got" "$want" 1e-6
near "the loss is training's final validation loss (other batches: to 1e-6)" \
	"$($PY "$T/metric.py" "$T/ev.sl" loss)" "$($PY "$T/meta.py" "$T/lm.sl" metrics.val_loss)" 1e-6
run sluice-evaluate -o "$T/evtext.sl" "$T/lm.sl" "$T/held.sl"
ok_rc "evaluate on raw text" 0
is "raw text, encoded with the model's vocabulary: the same figures" \
	"$(for k in tokens bytes loss; do $PY "$T/metric.py" "$T/evtext.sl" $k; done | tr '\n' ' ')" \
	"$(for k in tokens bytes loss; do $PY "$T/metric.py" "$T/ev.sl" $k; done | tr '\n' ' ')"
run sluice-evaluate --report "$T/lm.sl" "$T/heldids.sl"
like "the report" "$(cat "$T/out")" "perplexity +[0-9.]+"

# Byte-level BPE: tokens of several bytes, the same figures again
sluice-tokenize --fit-only "$T/bvocab.sl" --vocab-size 280 "$T/corpus.sl" 2>/dev/null
sluice-tokenize --apply "$T/bvocab.sl" "$T/corpus.sl" > "$T/bids.sl" 2>/dev/null
sluice-tokenize --apply "$T/bvocab.sl" "$T/held.sl" > "$T/bheld.sl" 2>/dev/null
run sluice-train --model gpt --vocab "$T/bvocab.sl" --layers 1 --heads 2 --embd 16 --context 8 --batch 4 --steps 100 --threads 1 -o "$T/bpe.sl" "$T/bids.sl"
ok_rc "gpt on BPE ids trains" 0
sluice-evaluate -o "$T/evb.sl" "$T/bpe.sl" "$T/bheld.sl" 2>/dev/null
sluice-evaluate -o "$T/evbt.sl" "$T/bpe.sl" "$T/held.sl" 2>/dev/null
got=$(for k in tokens bytes loss perplexity bits_per_byte; do $PY "$T/metric.py" "$T/evb.sl" $k; done | tr '\n' ' ')
near "BPE: tokens, bytes, loss, perplexity, bits per byte as computed in Python" "$got" "$($PY "$T/ref.py" "$T/bpe.sl" "$T/bheld.sl")" 1e-6
is "BPE: raw text scores as its ids" "$(for k in tokens bytes loss; do $PY "$T/metric.py" "$T/evbt.sl" $k; done | tr '\n' ' ')" \
	"$(for k in tokens bytes loss; do $PY "$T/metric.py" "$T/evb.sl" $k; done | tr '\n' ' ')"

# A model written by hand from sluice-model(5): every weight zero, so every
# logit is 0 and every token costs exactly ln V nats.
$PY - "$T/zero.sl" "$T/vocab.sl" 17 <<'PYEOF'
import msgpack, struct, sys, zlib
fn, vocab, V = sys.argv[1], open(sys.argv[2], "rb").read(), int(sys.argv[3])
C, T, L = 4, 8, 1
def rec(name, shape):
    n = 1
    for s in shape: n *= s
    data = struct.pack("<%df" % n, *([0.0] * n))
    return msgpack.packb([name, "f32", struct.pack("<%di" % len(shape), *shape), data, zlib.crc32(data)])
shapes = [("wte", [V, C]), ("wpe", [T, C])]
for k, s in [("ln1.w", [C]), ("ln1.b", [C]), ("attn.qkv.w", [3 * C, C]), ("attn.qkv.b", [3 * C]),
             ("attn.proj.w", [C, C]), ("attn.proj.b", [C]), ("ln2.w", [C]), ("ln2.b", [C]),
             ("mlp.fc.w", [4 * C, C]), ("mlp.fc.b", [4 * C]), ("mlp.proj.w", [C, 4 * C]), ("mlp.proj.b", [C])]:
    shapes.append(("h.0." + k, s))
shapes += [("lnf.w", [C]), ("lnf.b", [C])]
h = {"sluice": 1, "state": "sluice-model",
     "model": {"kind": "gpt", "vocab_size": V, "context": T, "layers": L, "heads": 1, "embd": C, "dropout": 0.0},
     "vocab": {"mode": "char", "size": 17, "end_of_text": 15, "stream": vocab},
     "fields": [["name", "str"], ["dtype", "str"], ["shape", "i32[]"], ["data", "f32[]"], ["crc32", "int"]],
     "lineage": []}
open(fn, "wb").write(msgpack.packb(h, use_bin_type=True) + b"".join(rec(n, s) for n, s in shapes))
PYEOF
run sluice-evaluate -o "$T/evz.sl" "$T/zero.sl" "$T/heldids.sl"
ok_rc "evaluate a hand-written all-zero model" 0
zt=$($PY "$T/metric.py" "$T/evz.sl" tokens)
zb=$($PY "$T/metric.py" "$T/evz.sl" bytes)
near "all-zero model: loss ln 17, perplexity 17, bits per byte tokens * log2(17) / bytes (to 1e-9: the short last window sums floats)" \
	"$(for k in loss perplexity bits_per_byte; do $PY "$T/metric.py" "$T/evz.sl" $k; done | tr '\n' ' ')" \
	"$($PY -c 'import math,sys; t,b=float(sys.argv[1]),float(sys.argv[2]); print(math.log(17), 17, t*math.log2(17)/b)' "$zt" "$zb")" 1e-9
is "all tokens but the first are scored; bytes leave out the end-of-text markers" "$zt $zb" \
	"$($PY -c 'import msgpack,sys; r=list(msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False))[1:]; n=sum(len(x[1]) for x in r); print("%d.0 %d.0" % (n+len(r)-2, n-1))' "$T/held.sl")"

# --- determinism, another seed, threads
sluice-train $TINY --steps 100 --dropout 0.1 --seed 4 -o "$T/d.sl" "$T/ids.sl" 2>/dev/null
mv "$T/d.sl" "$T/d1.sl"
sluice-train $TINY --steps 100 --dropout 0.1 --seed 4 -o "$T/d.sl" "$T/ids.sl" 2>/dev/null
is_file "same seed and threads: byte-identical model" "$T/d.sl" "$T/d1.sl"
sluice-train $TINY --steps 100 --dropout 0.1 --seed 5 -o "$T/d5.sl" "$T/ids.sl" 2>/dev/null
if cmp -s "$T/d1.sl" "$T/d5.sl"; then fail "another seed gives another model"; else pass "another seed gives another model"; fi
cat "$T/ids.sl" | sluice-train $TINY --steps 100 --dropout 0.1 --seed 4 2>/dev/null > "$T/dpipe.sl"
$PY - "$T/d1.sl" "$T/dpipe.sl" > "$T/pipecmp" <<'PYEOF'
import msgpack, sys
a, b = [list(msgpack.Unpacker(open(f, "rb"), raw=False)) for f in sys.argv[1:]]
print(a[1:] == b[1:] and a[0]["metrics"] == b[0]["metrics"])
PYEOF
is "training from a pipe: the same weights" "$(cat "$T/pipecmp")" True
sluice-train $(echo "$TINY" | sed 's/--threads 1/--threads 2/') --steps 100 --dropout 0.1 --seed 4 -o "$T/d2.sl" "$T/ids.sl" 2>/dev/null
near "two threads: the same training loss to 1e-4" "$($PY "$T/meta.py" "$T/d2.sl" metrics.train_loss)" \
	"$($PY "$T/meta.py" "$T/d1.sl" metrics.train_loss)" 1e-4

# --- SIGKILL mid-run, resume from the checkpoint: the same model bytes
ARGS="$TINY --steps 2000 --dropout 0.1 --seed 7 --val $T/heldids.sl --eval-every 250 --patience 4"
sluice-train $ARGS -o "$T/k.sl" "$T/ids.sl" 2>/dev/null
mv "$T/k.sl" "$T/full.sl"
sluice-train $ARGS --checkpoint "$T/ck.sl" --checkpoint-every 300 -o "$T/k.sl" "$T/ids.sl" 2>/dev/null &
pid=$!
i=0
while [ ! -f "$T/ck.sl" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -f "$T/ck.sl" ] && [ ! -f "$T/k.sl" ]; then pass "killed mid-run with a checkpoint written"; else fail "killed mid-run with a checkpoint written"; fi
step=$($PY "$T/meta.py" "$T/ck.sl" checkpoint.step)
run sluice-train $ARGS --checkpoint "$T/ck.sl" --checkpoint-every 300 --resume "$T/ck.sl" -o "$T/k.sl" "$T/ids.sl"
ok_rc "resumes from step $step" 0
is_file "resumed run: the same model bytes as an uninterrupted one" "$T/k.sl" "$T/full.sl"
sluice-train $ARGS --checkpoint "$T/ck2.sl" --checkpoint-every 300 -o "$T/k2.sl" "$T/ids.sl" 2>/dev/null &
pid=$!
while [ ! -f "$T/ck2.sl" ]; do sleep 0.01; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
run sluice-train $ARGS --embd 16 --resume "$T/ck2.sl" -o "$T/k2.sl" "$T/ids.sl"
ok_rc "resuming with another architecture: exit 2" 2
like "says what differs" "$(cat "$T/err")" 'its "model" differs'
run sluice-evaluate -o "$T/evck.sl" "$T/ck2.sl" "$T/heldids.sl"
ok_rc "a checkpoint is a language model too" 0

# --- bad usage and bad input
run sluice-train --model gpt -o "$T/x.sl" "$T/ids.sl"
ok_rc "no --vocab: exit 2" 2
run sluice-train $TINY --target y -o "$T/x.sl" "$T/ids.sl"
ok_rc "--target with gpt: exit 2" 2
run sluice-train $TINY --embd 30 --heads 4 -o "$T/x.sl" "$T/ids.sl"
ok_rc "embd not a multiple of heads: exit 2" 2
run sluice-train --vocab "$T/vocab.sl" --target y -o "$T/x.sl" "$T/ids.sl"
ok_rc "--vocab without gpt: exit 2" 2
run sluice-train $TINY --vocab "$T/corpus.sl" -o "$T/x.sl" "$T/ids.sl"
ok_rc "a --vocab that is no vocabulary: exit 1" 1
like "says so" "$(cat "$T/err")" 'corpus.sl: not a sluice-tokenize vocabulary'
$PY - "$T/bad.sl" "$T/f32.sl" "$T/empty.sl" "$T/nil.sl" "$T/wide.sl" <<'PYEOF'
import msgpack, struct, sys
def hdr(t): return msgpack.packb({"sluice": 1, "fields": [["ids", t]], "lineage": []})
open(sys.argv[1], "wb").write(hdr("u16[]") + msgpack.packb([struct.pack("<3H", 1, 2, 3)]) + msgpack.packb([struct.pack("<3H", 4, 17, 5)]))
open(sys.argv[2], "wb").write(hdr("f32[]") + msgpack.packb([struct.pack("<2f", 1, 2)]))
open(sys.argv[3], "wb").write(hdr("u16[]"))
open(sys.argv[4], "wb").write(hdr("u16[]") + msgpack.packb([struct.pack("<3H", 1, 2, 3)]) + msgpack.packb([None]))
open(sys.argv[5], "wb").write(hdr("i32[]") + msgpack.packb([struct.pack("<3i", 1, -1, 3)]))
PYEOF
run sluice-train $TINY -o "$T/x.sl" "$T/bad.sl"
ok_rc "an id outside the vocabulary: exit 1" 1
like "names record, field and id" "$(cat "$T/err")" 'bad.sl: record 2: field "ids": id 17 at 1 is not in the vocabulary \(17 tokens\)'
run sluice-train $TINY -o "$T/x.sl" "$T/wide.sl"
like "a negative i32 id: named" "$(cat "$T/err")" 'wide.sl: record 1: field "ids": id -1 at 1'
run sluice-train $TINY -o "$T/x.sl" "$T/f32.sl"
ok_rc "ids of the wrong type: exit 1" 1
like "names the field and its type" "$(cat "$T/err")" 'field "ids" is f32\[\], not token ids'
run sluice-train $TINY --field text -o "$T/x.sl" "$T/ids.sl"
like "--field naming a str field: refused" "$(cat "$T/err")" 'field "text" is str, not token ids'
run sluice-train $TINY -o "$T/x.sl" "$T/empty.sl"
ok_rc "an empty stream: exit 1" 1
like "says there is nothing to predict" "$(cat "$T/err")" 'empty.sl: 0 tokens: nothing to predict'
run sluice-train $TINY -o "$T/x.sl" "$T/nil.sl"
like "a missing ids value: named" "$(cat "$T/err")" 'nil.sl: record 2: field "ids": missing'
run sluice-train $TINY --context 4096 -o "$T/x.sl" "$T/ids.sl"
ok_rc "a context longer than the data: exit 1" 1
like "says so" "$(cat "$T/err")" 'a window of --context 4096 needs 4097'
if [ -f "$T/x.sl" ]; then fail "no model is left behind by a failed run"; else pass "no model is left behind by a failed run"; fi
run sluice-evaluate -o "$T/x.sl" "$T/lm.sl" "$T/bad.sl"
ok_rc "evaluate: an id outside the vocabulary: exit 1" 1
like "names record, field and id" "$(cat "$T/err")" "bad.sl: record 2: field \"ids\": id 17 at 1 is not in the model's vocabulary"
run sluice-evaluate -o "$T/x.sl" "$T/lm.sl" "$T/f32.sl"
like "evaluate: ids of the wrong type" "$(cat "$T/err")" 'field "ids" is f32\[\], not text \(str\) or token ids'
run sluice-evaluate -o "$T/x.sl" "$T/lm.sl" "$T/empty.sl"
ok_rc "evaluate: an empty stream: exit 1" 1
printf 'the cat sat on the zebra.\n' | sluice-ingest --format lines 2>/dev/null > "$T/zebra.sl"
run sluice-evaluate -o "$T/x.sl" "$T/lm.sl" "$T/zebra.sl"
ok_rc "evaluate: a character the vocabulary lacks: exit 1" 1
like "names record and field" "$(cat "$T/err")" 'zebra.sl: record 1: field "text": byte 19'
head -c 3000 "$T/lm.sl" > "$T/cut.sl"
run sluice-evaluate -o "$T/x.sl" "$T/cut.sl" "$T/heldids.sl"
ok_rc "a truncated model: exit 1" 1
like "says where" "$(cat "$T/err")" 'cut.sl'
$PY - "$T/zero.sl" "$T/zero16.sl" <<'PYEOF'
import msgpack, sys
u = msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)
h = next(u); h["model"]["vocab_size"] = 16
open(sys.argv[2], "wb").write(msgpack.packb(h, use_bin_type=True) + b"".join(msgpack.packb(r, use_bin_type=True) for r in u))
PYEOF
run sluice-evaluate -o "$T/x.sl" "$T/zero16.sl" "$T/heldids.sl"
ok_rc "a model whose vocabulary disagrees with it: exit 1" 1
like "says so" "$(cat "$T/err")" 'the vocabulary has 17 tokens, the model 16'
run sluice-predict "$T/lm.sl" "$T/heldids.sl"
like "predict: a language model is for generate and evaluate" "$(cat "$T/err")" 'a language model'
done_testing

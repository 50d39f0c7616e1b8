#!/bin/sh
# sluice-generate: greedy decoding against a numpy forward of the same
# model (the window sliding included), determinism, the filter against
# text mode record by record, bytes and UTF-8, the terminal, bad input.
# Models with random weights are written here (mkmodel); a trained one
# must reproduce its repetitive corpus.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

mk() { # mk FILE 'python list of (prompt,) or (id, prompt) rows' [prompt type]
	$PY - "$1" "$2" "${3:-str}" <<'PYEOF'
import msgpack, sys
rows = eval(sys.argv[2])
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["id", "int"], ["prompt", sys.argv[3]]], "lineage": []}))
    for i, p in enumerate(rows):
        f.write(msgpack.packb([i, p], use_bin_type=True))
PYEOF
}
mkmodel() { # mkmodel VOCAB OUT SEED SCALE CTX [TENSOR-WITH-A-NAN]
	$PY - "$@" <<'PYEOF'
import io, msgpack, random, struct, sys, zlib
voc = open(sys.argv[1], "rb").read()
objs = list(msgpack.Unpacker(io.BytesIO(voc), raw=False))
V = objs[0]["vocab_size"]
eot = next((r[0] for r in objs[1:] if r[2] == "<|endoftext|>"), None)
rnd = random.Random(int(sys.argv[3])); sc = float(sys.argv[4]); T = int(sys.argv[5])
L, NH, C = 1, 2, 8
shapes = [("wte", [V, C]), ("wpe", [T, C])]
for n, s in [("ln1.w", [C]), ("ln1.b", [C]), ("attn.qkv.w", [3*C, C]), ("attn.qkv.b", [3*C]),
             ("attn.proj.w", [C, C]), ("attn.proj.b", [C]), ("ln2.w", [C]), ("ln2.b", [C]),
             ("mlp.fc.w", [4*C, C]), ("mlp.fc.b", [4*C]), ("mlp.proj.w", [C, 4*C]), ("mlp.proj.b", [C])]:
    shapes.append(("h.0." + n, s))
shapes += [("lnf.w", [C]), ("lnf.b", [C])]
hdr = {"sluice": 1, "state": "sluice-model",
       "model": {"kind": "gpt", "vocab_size": V, "context": T, "layers": L, "heads": NH,
                 "embd": C, "dropout": 0.0, "parameters": 0},
       "vocab": {"mode": objs[0]["mode"], "size": V, "end_of_text": eot, "stream": voc},
       "fields": [["name", "str"], ["dtype", "str"], ["shape", "i32[]"], ["data", "f32[]"],
                  ["crc32", "int"]], "lineage": []}
with open(sys.argv[2], "wb") as f:
    f.write(msgpack.packb(hdr, use_bin_type=True))
    for name, s in shapes:
        n = 1
        for d in s: n *= d
        if name in ("h.0.ln1.w", "h.0.ln2.w", "lnf.w"):
            vals = [1 + rnd.gauss(0, 0.1) for _ in range(n)]
        else:
            vals = [rnd.gauss(0, sc) for _ in range(n)]
        if len(sys.argv) > 6 and name == sys.argv[6]:
            vals[0] = float("nan")
        data = struct.pack("<%df" % n, *vals)
        f.write(msgpack.packb([name, "f32", struct.pack("<%di" % len(s), *s), data,
                               zlib.crc32(data)], use_bin_type=True))
PYEOF
}
# greedy continuation by a numpy forward in double: ids of the prompt ->
# N more ids, each from the last CTX tokens
npgreedy() { # npgreedy MODEL N ids...
	$PY - "$@" <<'PYEOF'
import io, math, msgpack, struct, sys
import numpy as np
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
m = objs[0]["model"]; T, C, NH = m["context"], m["embd"], m["heads"]
W = {}
for r in objs[1:]:
    shape = struct.unpack("<%di" % (len(r[2]) // 4), r[2])
    W[r[0]] = np.frombuffer(r[3], "<f4").astype(np.float64).reshape(shape)
erf = np.vectorize(math.erf)
def ln(x, w, b):
    mu = x.mean(-1, keepdims=True); var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * w + b
def logits(ids):
    t = len(ids); x = W["wte"][ids] + W["wpe"][:t]
    for l in range(m["layers"]):
        p = "h.%d." % l
        qkv = ln(x, W[p + "ln1.w"], W[p + "ln1.b"]) @ W[p + "attn.qkv.w"].T + W[p + "attn.qkv.b"]
        hs = C // NH; y = np.zeros((t, C))
        for h in range(NH):
            q = qkv[:, h*hs:(h+1)*hs]; k = qkv[:, C+h*hs:C+(h+1)*hs]; v = qkv[:, 2*C+h*hs:2*C+(h+1)*hs]
            a = q @ k.T / math.sqrt(hs) + np.triu(np.full((t, t), -np.inf), 1)
            a = np.exp(a - a.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
            y[:, h*hs:(h+1)*hs] = a @ v
        x = x + y @ W[p + "attn.proj.w"].T + W[p + "attn.proj.b"]
        f = ln(x, W[p + "ln2.w"], W[p + "ln2.b"]) @ W[p + "mlp.fc.w"].T + W[p + "mlp.fc.b"]
        f = 0.5 * f * (1 + erf(f / math.sqrt(2)))
        x = x + f @ W[p + "mlp.proj.w"].T + W[p + "mlp.proj.b"]
    return ln(x, W["lnf.w"], W["lnf.b"])[-1] @ W["wte"].T
ids = [int(a) for a in sys.argv[3:]]
out = []
for _ in range(int(sys.argv[2])):
    z = logits(ids[-T:])
    s = np.sort(z)
    if s[-1] - s[-2] < 1e-4:
        print("near tie", file=sys.stderr)
    ids.append(int(np.argmax(z))); out.append(ids[-1])
print(" ".join(map(str, out)))
PYEOF
}
# the ids of text under a vocabulary (its records' bytes, longest first is
# not needed: only character vocabularies are decoded this way)
ids_of() { # ids_of VOCAB TEXT
	$PY - "$1" "$2" <<'PYEOF'
import msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
tok = {r[1]: r[0] for r in objs[1:]}
print(" ".join(str(tok[c.encode()]) for c in sys.argv[2]))
PYEOF
}
text_of() { # text_of VOCAB ids...: the bytes, specials as their text
	$PY - "$@" <<'PYEOF'
import msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
tok = {r[0]: r[1] for r in objs[1:]}
sys.stdout.buffer.write(b"".join(tok[int(i)] for i in sys.argv[2:]))
PYEOF
}

# A character vocabulary of 9 characters and the two specials, and a BPE
# vocabulary over text with multi-byte characters.
printf 'abcdefgh abcdefgh\n' | sluice-ingest --format lines >"$T/corpus.sl"
sluice-tokenize --char --fit-only "$T/vc.sl" "$T/corpus.sl" 2>/dev/null
printf 'h\303\251llo w\303\266rld \346\227\245\346\234\254 \303\251t\303\251\n' |
	sluice-ingest --format lines >"$T/corpus2.sl"
sluice-tokenize --vocab-size 270 --fit-only "$T/vb.sl" "$T/corpus2.sl" 2>/dev/null
mkmodel "$T/vc.sl" "$T/c.sl" 1 1 8
mkmodel "$T/vb.sl" "$T/b.sl" 2 1 8

# greedy decoding equals the numpy forward, well past the window of 8
run sluice-generate --prompt abc --temperature 0 --max-tokens 30 "$T/c.sl"
ok_rc "greedy decoding runs" 0
want=$(text_of "$T/vc.sl" $(npgreedy "$T/c.sl" 30 $(ids_of "$T/vc.sl" abc)))
is "greedy text equals a numpy forward's, the window sliding after 8 tokens" "$(cat "$T/out")" "$want"
run sluice-generate --prompt abcdefghabc --temperature 0 --max-tokens 12 "$T/c.sl"
want=$(text_of "$T/vc.sl" $(npgreedy "$T/c.sl" 12 $(ids_of "$T/vc.sl" abcdefghabc)))
is "a prompt longer than the window: its last 8 tokens" "$(cat "$T/out")" "$want"
run sluice-generate --prompt '' --temperature 0 --max-tokens 10 "$T/c.sl"
want=$(text_of "$T/vc.sl" $(npgreedy "$T/c.sl" 10 9))
is "an empty prompt starts from end-of-text (id 9)" "$(cat "$T/out")" "$want"
for alt in "--top-k 1 --seed 5" "--top-p 1e-9 --seed 6" "--temperature 0 --top-k 3 --seed 7"; do
	sluice-generate --prompt abc $alt --max-tokens 30 "$T/c.sl" >"$T/alt" 2>/dev/null
	sluice-generate --prompt abc --temperature 0 --max-tokens 30 "$T/c.sl" >"$T/greedy"
	is_file "$alt is greedy too" "$T/alt" "$T/greedy"
done

# padding is never a training target: it is never drawn, while the other
# special (end-of-text) is, from the same barely trained model
sluice-tokenize --apply "$T/vc.sl" -o "$T/cids.sl" "$T/corpus.sl" 2>/dev/null
sluice-train --model gpt --vocab "$T/vc.sl" --layers 1 --heads 1 --embd 8 --context 8 \
	--steps 3 --batch 2 --threads 1 -o "$T/barely.sl" "$T/cids.sl" 2>/dev/null
sluice-generate --prompt abc --temperature 3 --max-tokens 3000 --seed 11 "$T/barely.sl" >"$T/flat"
is "no padding in 3000 flattened draws" "$(grep -o '<|pad|>' "$T/flat" | wc -l)" 0
if [ "$(grep -o '<|endoftext|>' "$T/flat" | wc -l)" -gt 0 ]; then
	pass "end-of-text is drawn from the same model"
else
	fail "end-of-text is drawn from the same model"
fi

# a model trained on "abcdefgh" documents continues them, greedily, past
# its window of 16 tokens
$PY -c 'print("abcdefgh\n" * 200, end="")' | sluice-ingest --format lines |
	sluice-tokenize --char --fit "$T/vr.sl" -o "$T/er.sl" 2>/dev/null
run sluice-train --model gpt --vocab "$T/vr.sl" --layers 1 --heads 2 --embd 16 --context 16 \
	--steps 150 --batch 8 --lr 1e-2 --warmup 10 --threads 1 -o "$T/r.sl" "$T/er.sl"
ok_rc "a tiny GPT trains on the repeated document" 0
run sluice-generate --prompt abc --temperature 0 --max-tokens 40 "$T/r.sl"
is "greedy: the pattern, end-of-text between documents, 40 tokens" "$(cat "$T/out")" \
	"defgh<|endoftext|>abcdefgh<|endoftext|>abcdefgh<|endoftext|>abcdefgh<|endoftext|>abcdefg"
run sluice-generate --prompt '' --temperature 0 --max-tokens 9 --stop-at-eot "$T/r.sl"
is "from nothing: one document, stopping at its end" "$(cat "$T/out")" "abcdefgh"
mk "$T/pr.sl" '["ab", "efg", "h"]'
run sluice-generate --temperature 0 --stop-at-eot "$T/r.sl" "$T/pr.sl"
is "filter: each prompt's document completed" \
	"$(sluice-cat --json --fields completion "$T/out")" '{"completion":"cdefgh"}
{"completion":"h"}
{"completion":""}'

# sampling: seeded, byte-identical; the seed matters
sluice-generate --prompt ab --max-tokens 200 --seed 3 "$T/c.sl" >"$T/s1"
sluice-generate --prompt ab --max-tokens 200 --seed 3 "$T/c.sl" >"$T/s2"
sluice-generate --prompt ab --max-tokens 200 --seed 4 "$T/c.sl" >"$T/s3"
is_file "same seed, same bytes" "$T/s2" "$T/s1"
if cmp -s "$T/s1" "$T/s3"; then fail "another seed, other text"; else pass "another seed, other text"; fi
sluice-generate --prompt ab --max-tokens 200 --seed 3 --top-k 4 --top-p 0.9 --temperature 0.7 \
	"$T/c.sl" >"$T/s4"
if cmp -s "$T/s1" "$T/s4"; then fail "the cuts change the text"; else pass "the cuts change the text"; fi
is "200 tokens of one character or a special each" \
	"$(sed 's/<|endoftext|>/E/g; s/<|pad|>/P/g' "$T/s1" | wc -c)" "200"
run sluice-generate --prompt ab --max-tokens 0 "$T/c.sl"
is "--max-tokens 0: nothing" "$(wc -c <"$T/out")" "0"
run sluice-generate --prompt ab --max-tokens 40 --echo --seed 3 "$T/c.sl"
is "--echo writes the prompt first" "$(cat "$T/out")" \
	"ab$(sluice-generate --prompt ab --max-tokens 40 --seed 3 "$T/c.sl")"

# end of text: this model makes it often; --stop-at-eot stops there
sluice-generate --prompt '' --max-tokens 300 --seed 1 "$T/c.sl" >"$T/e1"
like "without --stop-at-eot, end-of-text is written as its text" "$(cat "$T/e1")" '<\|endoftext\|>'
sluice-generate --prompt '' --max-tokens 300 --seed 1 --stop-at-eot "$T/c.sl" >"$T/e2"
is "--stop-at-eot: the text up to the first end-of-text" "$(cat "$T/e2")" \
	"$(sed 's/<|endoftext|>.*//' "$T/e1")"

# -o FILE
run sluice-generate --prompt ab --max-tokens 200 --seed 3 -o "$T/o.txt" "$T/c.sl"
is_file "-o FILE holds the text" "$T/o.txt" "$T/s1"
is "... and no temporary file is left" "$(ls "$T" | grep -c tmp)" "0"

# filter: each record's completion equals text mode with seed + its index
mk "$T/p.sl" '["abc", "", "hh", "abc"]'
mk "$T/p2.sl" '["gab"]'
run sluice-generate --max-tokens 25 --seed 10 -o "$T/f.sl" "$T/c.sl" "$T/p.sl" "$T/p2.sl"
ok_rc "filter runs" 0
is "counts on stderr" "$(cat "$T/err")" "sluice-generate: 5 records, 125 tokens generated"
for i in 0 1 2 3 4; do
	p=$(echo "abc||hh|abc|gab" | cut -d'|' -f$((i + 1)))
	sluice-generate --prompt "$p" --max-tokens 25 --seed $((10 + i)) "$T/c.sl" >"$T/want$i"
done
$PY - "$T/f.sl" "$T" <<'PYEOF' >"$T/check"
import msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
h = objs[0]
print(h["fields"], h["lineage"][-1]["program"], h["lineage"][-1]["args"][:2])
for i, r in enumerate(objs[1:]):
    print(r[2] == open("%s/want%d" % (sys.argv[2], i), "rb").read().decode(), end=" ")
print(len(objs))
PYEOF
is "header extended, lineage, completion i == text mode with seed 10 + i, across files" \
	"$(cat "$T/check")" "[['id', 'int'], ['prompt', 'str'], ['completion', 'str']] sluice-generate ['--max-tokens', '25']
True True True True True 6"
sluice-generate --max-tokens 25 --seed 10 "$T/c.sl" "$T/p.sl" "$T/p2.sl" 2>/dev/null >"$T/f1.sl"
sluice-generate --max-tokens 25 --seed 10 "$T/c.sl" "$T/p.sl" "$T/p2.sl" 2>/dev/null >"$T/f2.sl"
is_file "the filter's stream is byte-identical run to run" "$T/f2.sl" "$T/f1.sl"
sluice-generate --max-tokens 25 --seed 10 "$T/c.sl" <"$T/p.sl" 2>/dev/null | sluice-cat --json >"$T/j1"
sluice-cat --json "$T/f.sl" | head -n 4 >"$T/j2"
is_file "standard input is read when it is not a terminal" "$T/j1" "$T/j2"
# threads: 150 records (three batches) and a second segment, the same
# bytes for any thread count; --threads stays out of the lineage
mk "$T/many.sl" '["abcdefgh"[i % 7:] for i in range(150)]'
for n in 1 2 5; do
	sluice-generate --threads $n --max-tokens 20 --seed 4 "$T/c.sl" "$T/many.sl" "$T/p.sl" \
		2>/dev/null >"$T/th$n.sl"
done
is_file "2 threads write the bytes 1 thread writes" "$T/th2.sl" "$T/th1.sl"
is_file "5 threads write the bytes 1 thread writes" "$T/th5.sl" "$T/th1.sl"
sluice-generate --max-tokens 20 --seed 4 "$T/c.sl" "$T/many.sl" "$T/p.sl" 2>/dev/null >"$T/th.sl"
is_file "the default (the cores) too" "$T/th.sl" "$T/th1.sl"
sluice-generate --max-tokens 20 --seed 141 --prompt "$(printf 'abcdefgh' | cut -c$((137 % 7 + 1))-)" \
	"$T/c.sl" >"$T/want137"
sluice-generate --max-tokens 20 --seed 157 --prompt abc "$T/c.sl" >"$T/want153"
is "record 137 seeded 4 + 137, record 3 of the second input 4 + 153" \
	"$($PY -c '
import msgpack, sys
r = list(msgpack.Unpacker(open(sys.argv[1] + "/th5.sl", "rb"), raw=False))
print(len(r), r[1 + 137][2] == open(sys.argv[1] + "/want137").read(), r[1 + 153][2] == open(sys.argv[1] + "/want153").read(), r[0]["lineage"][-1]["args"][:4])' "$T")" \
	"155 True True ['--max-tokens', '20', '--seed', '4']"
mk "$T/pm.sl" '["ab"] * 70 + [None] + ["ab"] * 10'
run sluice-generate --threads 2 --max-tokens 3 "$T/c.sl" "$T/pm.sl"
like "a missing prompt after a full batch: named with its record" "$(cat "$T/err")" \
	'pm.sl: record 71: field "prompt": no prompt'

mk "$T/pb.sl" '[b"abc", b""]' bin
run sluice-generate --max-tokens 25 --seed 10 --field prompt --out-field gen --bin "$T/c.sl" "$T/pb.sl"
is "bin prompts, --out-field, --bin" \
	"$(sluice-cat --json "$T/out" | $PY -c '
import json, sys, base64
for l in sys.stdin:
    r = json.loads(l); print(sorted(r), base64.b64decode(r["gen"]) == open(sys.argv[1] + "/want" + str(r["id"]), "rb").read())' "$T")" \
	"['gen', 'id', 'prompt'] True
['gen', 'id', 'prompt'] True"

# bytes: BPE prompts may be any bytes; completions may cut a character
run sluice-generate --prompt "$(printf 'h\303\251\377l')" --max-tokens 20 --seed 1 "$T/b.sl"
ok_rc "BPE: a prompt that is not UTF-8 is encoded byte by byte" 0
run sluice-generate --prompt "$(printf 'a\303\251')" --max-tokens 5 "$T/c.sl"
ok_rc "a character vocabulary refuses characters it lacks: exit 1" 1
like "... naming the byte" "$(cat "$T/err")" "no character at byte 1 of the prompt"
mk "$T/pu.sl" '["h\u00e9llo", "w\u00f6", "", "\u65e5"]'
sluice-generate --max-tokens 30 --seed 2 --bin "$T/b.sl" "$T/pu.sl" 2>/dev/null >"$T/fb.sl"
run sluice-generate --max-tokens 30 --seed 2 -o "$T/fs.sl" "$T/b.sl" "$T/pu.sl"
ok_rc "random BPE completions as str" 0
$PY - "$T/fb.sl" "$T/fs.sl" <<'PYEOF' >"$T/check"
import codecs, msgpack, sys
# sluice replaces each byte that starts no valid character
codecs.register_error("perbyte", lambda e: ("\ufffd", e.start + 1))
b = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))[1:]
s = list(msgpack.Unpacker(open(sys.argv[2], "rb"), raw=False))[1:]
fixed = 0
for rb, rs in zip(b, s):
    raw = rb[2]
    # drop an unfinished last character, replace the rest
    for back in range(1, 4):
        if back > len(raw): break
        c = raw[-back]
        if c & 0xc0 == 0x80: continue
        need = 4 if 0xf0 <= c <= 0xf4 else 3 if c >= 0xe0 else 2 if 0xc2 <= c < 0xe0 else 1
        if need > back: raw = raw[:-back]
        break
    want = raw.decode("utf-8", "perbyte")
    fixed += want.encode() != rb[2]
    print(rs[2] == want, end=" ")
print(fixed > 0)
PYEOF
is "str completions: the bytes, an unfinished last character dropped, bad bytes as U+FFFD" \
	"$(cat "$T/check")" "True True True True True"
like "... the records changed are counted" "$(cat "$T/err")" "[1-9][0-9]* completions were cut at an unfinished character or had invalid UTF-8 replaced"
sluice-generate --max-tokens 30 --seed 3 --bin "$T/b.sl" "$T/pu.sl" 2>/dev/null | sluice-cat --json >"$T/jb"
sluice-generate --prompt "$(printf 'w\303\266')" --max-tokens 30 --seed 4 "$T/b.sl" >"$T/tb"
is "text mode writes the exact bytes (record 1 with --bin, seed 3 + 1)" \
	"$(sed -n 2p "$T/jb" | $PY -c 'import json,sys,base64; print(base64.b64decode(json.loads(sys.stdin.read())["completion"]).hex())')" \
	"$(od -An -tx1 "$T/tb" | tr -d ' \n')"

# a terminal sees the same bytes as they come, then a newline; with a
# terminal as standard input and no --prompt, text from end-of-text
tty() { # tty ARGS...: runs sluice-generate on a pty, its output without CRs
	$PY - "$@" <<'PYEOF'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sluice-generate", ["sluice-generate"] + sys.argv[1:])
out = b""
while True:
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
os.waitpid(pid, 0)
sys.stdout.buffer.write(out.replace(b"\r\n", b"\n"))
PYEOF
}
tty --prompt ab --max-tokens 200 --seed 3 "$T/c.sl" >"$T/tty"
printf '\n' >>"$T/s1"
is_file "on a terminal: the same text and a final newline" "$T/tty" "$T/s1"
tty --max-tokens 50 --seed 3 "$T/c.sl" >"$T/tty"
sluice-generate --prompt '' --max-tokens 50 --seed 3 "$T/c.sl" >"$T/s5"
printf '\n' >>"$T/s5"
is_file "no --prompt on a terminal: text from end-of-text" "$T/tty" "$T/s5"

# errors
run sluice-generate --prompt a "$T/nope.sl"
ok_rc "a missing model: exit 1" 1
like "... naming it" "$(cat "$T/err")" "nope.sl"
run sluice-generate --prompt a "$T/vc.sl"
ok_rc "a vocabulary is not a model: exit 1" 1
printf 'x,y\n1,2.5\n2,4\n3,6\n' | sluice-ingest >"$T/lin.sl"
sluice-train --model linear --target y --epochs 1 -o "$T/linm.sl" "$T/lin.sl" 2>/dev/null
run sluice-generate --prompt a "$T/linm.sl"
ok_rc "a linear model: exit 1" 1
like "... not a language model" "$(cat "$T/err")" "not a language model"
mkmodel "$T/vc.sl" "$T/nan.sl" 1 1 8 h.0.mlp.fc.w
run sluice-generate --prompt abc "$T/nan.sl"
ok_rc "a model with a NaN weight: exit 1" 1
like "... its scores are not finite" "$(cat "$T/err")" "score for token 0 is not finite \(after 0 tokens\)"
sluice-tokenize --char --special '<|pad|>' --fit-only "$T/vn.sl" "$T/corpus.sl" 2>/dev/null
mkmodel "$T/vn.sl" "$T/noeot.sl" 1 1 8
run sluice-generate --prompt '' "$T/noeot.sl"
ok_rc "an empty prompt and no end-of-text token: exit 1" 1
like "... saying so" "$(cat "$T/err")" "no end-of-text token"
run sluice-generate --field id "$T/c.sl" "$T/p.sl"
ok_rc "an int prompt field: exit 1" 1
like "... naming the field and its type" "$(cat "$T/err")" 'field "id": the prompt must be str or bin, not int'
run sluice-generate --field text "$T/c.sl" "$T/p.sl"
ok_rc "no prompt field: exit 1" 1
like "... naming it" "$(cat "$T/err")" 'no field "text"'
run sluice-generate --out-field id "$T/c.sl" "$T/p.sl"
ok_rc "an output field that is taken: exit 1" 1
mk "$T/pn.sl" '["ab", None]'
run sluice-generate --max-tokens 3 "$T/c.sl" "$T/pn.sl"
ok_rc "a missing prompt value: exit 1" 1
like "... naming the record and field" "$(cat "$T/err")" 'pn.sl: record 2: field "prompt": no prompt'
mk "$T/px.sl" '["ab", "a\u00e9"]'
run sluice-generate --max-tokens 3 "$T/c.sl" "$T/px.sl"
ok_rc "a record with a character the vocabulary lacks: exit 1" 1
like "... naming the record and field" "$(cat "$T/err")" 'px.sl: record 2: field "prompt": .*no character at byte 1'
head -c 40 "$T/p.sl" >"$T/trunc.sl"
run sluice-generate --max-tokens 3 "$T/c.sl" "$T/trunc.sl"
ok_rc "a truncated stream: exit 1" 1
run sluice-generate "$T/c.sl" </dev/null
ok_rc "empty input: exit 1" 1
: >"$T/empty"
run sluice-generate "$T/c.sl" "$T/empty"
like "... with a hint" "$(cat "$T/err")" "no stream header|no input header"
for bad in "--temperature nan" "--temperature -1" "--temperature inf" "--top-p 0" \
	"--top-p 1.5" "--top-p nan" "--top-k -1" "--max-tokens x" "--seed -3" "--field="; do
	run sluice-generate --prompt a $bad "$T/c.sl"
	ok_rc "$bad: usage error, exit 2" 2
done
run sluice-generate --prompt a "$T/c.sl" "$T/p.sl"
ok_rc "--prompt with input files: exit 2" 2
run sluice-generate --echo "$T/c.sl" "$T/p.sl"
ok_rc "--echo in a filter: exit 2" 2
run sluice-generate
ok_rc "no model: exit 2" 2

done_testing

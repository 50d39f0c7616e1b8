#!/bin/sh
# sluice-tokenize: BPE merges on hand-worked corpora, word boundaries,
# byte-exact round trips (invalid UTF-8 included), character mode,
# determinism and bad input.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

mk() { # mk FILE TYPE 'python list of values'
	$PY - "$1" "$2" "$3" <<'PYEOF'
import msgpack, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["text", sys.argv[2]]], "lineage": []}))
    for v in eval(sys.argv[3]):
        f.write(msgpack.packb([v], use_bin_type=True))
PYEOF
}
vocab() { sluice-cat --json "$1" | $PY -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["id"] >= int(sys.argv[1]): print(r["id"], r["text"], r["left"], r["right"])' "$2"; }
ids() { $PY -c '
import msgpack, struct, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
names = [f[0] for f in objs[0]["fields"]]
i = names.index("ids"); t = objs[0]["fields"][i][1]
for r in objs[1:]:
    b = r[i]; fmt = "<%dH" % (len(b) // 2) if t.startswith("u16") else "<%di" % (len(b) // 4)
    print(" ".join(map(str, struct.unpack(fmt, b))))' "$1"; }

# aaabdaaabac: (a,a) occurs 4 times -> aa; then (aa,a) and (a,b) tie at 2,
# the smaller ids win -> ab; then (aa,ab) twice -> aaab; then nothing twice.
mk "$T/a.sl" str '["aaabdaaabac"]'
run sluice-tokenize --fit "$T/v.sl" --vocab-size 300 -o "$T/enc.sl" "$T/a.sl"
ok_rc "BPE fit runs" 0
is "three merges, in order, then the specials" "$(vocab "$T/v.sl" 256)" "256 aa 97 97
257 ab 97 98
258 aaab 256 257
259 <|endoftext|> None None
260 <|pad|> None None"
like "a short vocabulary is reported" "$(cat "$T/err")" "vocabulary of 261 tokens, not 300"
is "encoding by merge rank" "$(ids "$T/enc.sl")" "258 100 258 97 99"
is "the vocabulary header says what it is" \
	"$(sluice-cat --schema --json "$T/v.sl" | $PY -c 'import json,sys; m=json.loads(sys.stdin.readline())["meta"]; print(m["state"], m["mode"], m["vocab_size"], m["specials"])')" \
	"sluice-tokenize bpe 261 ['<|endoftext|>', '<|pad|>']"

# merges never cross word boundaries: "ab ab ab" is "ab", " ab", " ab"
mk "$T/b.sl" str '["ab ab ab"]'
sluice-tokenize --fit-only "$T/vb.sl" --vocab-size 300 "$T/b.sl" 2>/dev/null
is "merges stay inside GPT-2-style words" "$(vocab "$T/vb.sl" 256 | head -n 2)" "256 ab 97 98
257  ab 32 256"

# round trip on a larger text, and on bytes that are not UTF-8
$PY - "$T/big.sl" <<'PYEOF'
import msgpack, random, sys
rnd = random.Random(4)
words = ["the", "cat", "sat", "on", "mat", "don't", "we'll", "42", "3.14", "!!", "\u00e9t\u00e9", "\u65e5\u672c"]
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["text", "str"]], "lineage": []}))
    for _ in range(300):
        f.write(msgpack.packb([" ".join(rnd.choice(words) for _ in range(rnd.randint(0, 30))) + rnd.choice(["", "\n", "  \n\t"])]))
PYEOF
sluice-tokenize --fit "$T/vbig.sl" --vocab-size 320 -o "$T/ebig.sl" "$T/big.sl" 2>/dev/null
run sluice-tokenize --decode "$T/vbig.sl" --out-field back -o "$T/dbig.sl" "$T/ebig.sl"
ok_rc "decode runs" 0
is "text -> ids -> text is exact" \
	"$($PY -c 'import msgpack,sys; print(all(r[0] == r[2] for r in list(msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False))[1:]))' "$T/dbig.sl")" "True"
mk "$T/bin.sl" bin '[b"\xff\xfeab\xc3", b"", b"\x00\x01ab ab"]'
sluice-tokenize --apply "$T/vbig.sl" -o "$T/ebin.sl" "$T/bin.sl" 2>/dev/null
run sluice-tokenize --decode "$T/vbig.sl" --bin --out-field back -o "$T/dbin.sl" "$T/ebin.sl"
is "invalid UTF-8 bytes round-trip through a bin field" \
	"$($PY -c 'import msgpack,sys; print(all(r[0] == r[2] for r in list(msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False))[1:]))' "$T/dbin.sl")" "True"
run sluice-tokenize --decode "$T/vbig.sl" --out-field back "$T/ebin.sl"
ok_rc "decoding invalid UTF-8 into str: exit 1" 1
like "... naming record and byte" "$(cat "$T/err")" 'record 1: field "ids": the decoded bytes are not valid UTF-8 at byte 0'

# character mode: the distinct characters in sorted order
mk "$T/c.sl" str '["hello world"]'
sluice-tokenize --char --fit-only "$T/vc.sl" "$T/c.sl" 2>/dev/null
mk "$T/h.sl" str '["hello", "dew"]'
sluice-tokenize --apply "$T/vc.sl" -o "$T/ec.sl" "$T/h.sl"
is "char ids: ' ' d e h l o r w = 0..7" "$(ids "$T/ec.sl")" "3 2 4 4 5
1 2 7"
mk "$T/x.sl" str '["hex"]'
run sluice-tokenize --apply "$T/vc.sl" "$T/x.sl"
ok_rc "a character outside the vocabulary: exit 1" 1
like "... naming record, field and byte" "$(cat "$T/err")" 'record 1: field "text": byte 2: a character not in the vocabulary'

# determinism
cp "$T/vbig.sl" "$T/vbig1.sl"
sluice-tokenize --fit "$T/vbig.sl" --vocab-size 320 -o "$T/ebig.sl" "$T/big.sl" 2>/dev/null
is_file "same corpus, same vocabulary bytes" "$T/vbig.sl" "$T/vbig1.sl"

# threads: records are converted in batches over workers; the bytes written
# do not depend on the thread count (nor does the lineage mention it).
# 9000 records make three batches of 4096 at most; a second input adds a
# second segment.
$PY - "$T/many.sl" "$T/many2.sl" <<'PYEOF'
import msgpack, random, sys
rnd = random.Random(7)
words = ["the", "cat", "sat", "on", "mat", "don't", "42", "\u00e9t\u00e9", "\u65e5\u672c", "  ", "\n"]
for path, n in ((sys.argv[1], 9000), (sys.argv[2], 50)):
    with open(path, "wb") as f:
        f.write(msgpack.packb({"sluice": 1, "fields": [["k", "int"], ["text", "str"]], "lineage": []}))
        for i in range(n):
            t = None if i % 97 == 5 else " ".join(rnd.choice(words) for _ in range(rnd.randint(0, 40)))
            f.write(msgpack.packb([i, t]))
PYEOF
for n in 1 2 5; do
	sluice-tokenize --threads $n --apply "$T/vbig.sl" -o "$T/th.sl" "$T/many.sl" "$T/many2.sl" 2>/dev/null
	sluice-tokenize --threads=$n --decode "$T/vbig.sl" --out-field back -o "$T/thd.sl" "$T/th.sl" 2>/dev/null
	mv "$T/th.sl" "$T/th$n.sl"
	mv "$T/thd.sl" "$T/thd$n.sl"
done
is_file "encoding: 2 threads write the bytes 1 thread writes" "$T/th2.sl" "$T/th1.sl"
is_file "encoding: 5 threads write the bytes 1 thread writes" "$T/th5.sl" "$T/th1.sl"
is_file "decoding: 5 threads write the bytes 1 thread writes" "$T/thd5.sl" "$T/thd1.sl"
is "every record, in order, each segment, round trip exact (missing stays missing)" \
	"$($PY -c '
import msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
hs = [i for i, o in enumerate(objs) if isinstance(o, dict)]
recs = [o for o in objs if not isinstance(o, dict)]
print(len(hs), len(recs), [r[0] for r in recs] == list(range(9000)) + list(range(50)),
      all(r[1] == r[3] for r in recs), sum(r[1] is None and r[2] is None for r in recs))' "$T/thd5.sl")" \
	"2 9050 True True 94"
sluice-tokenize --apply "$T/vbig.sl" -o "$T/th.sl" "$T/many.sl" "$T/many2.sl" 2>/dev/null
is_file "the default (the cores) writes the same bytes" "$T/th.sl" "$T/th1.sl"
is "the lineage leaves --threads out" \
	"$($PY -c '
import msgpack, sys
h = next(iter(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)))
print(h["lineage"][-2]["args"], h["lineage"][-1]["args"])' "$T/thd5.sl")" \
	"['--apply', '$T/vbig.sl', '$T/many.sl', '$T/many2.sl'] ['--decode', '$T/vbig.sl', '--out-field', 'back', '$T/th.sl']"
# --fit over more than one segment: each is encoded as --apply would, a
# trailer included (it was refused once); the vocabulary's lineage is the
# input's, the trailer's counts with it
mk "$T/dup.sl" str '["a cat sat", "a cat sat", "on a mat"]'
sluice-dedup --trailer "$T/dup.sl" 2>/dev/null > "$T/dd.sl"
run sluice-tokenize --fit "$T/vf.sl" --vocab-size 270 -o "$T/ef.sl" "$T/dd.sl"
ok_rc "--fit on a stream that ends in a trailer: exit 0" 0
sluice-tokenize --fit-only "$T/vf2.sl" --vocab-size 270 "$T/dd.sl" 2>/dev/null
sluice-tokenize --apply "$T/vf2.sl" -o "$T/ea.sl" "$T/dd.sl" 2>/dev/null
is "--fit: the records --fit-only then --apply write" "$(sluice-cat --json "$T/ef.sl")" \
	"$(sluice-cat --json "$T/ea.sl")"
is "--fit: the trailer passes through, dedup's counts in it" "$(trail "$T/ef.sl")" \
	"True 2 [{'records': 3, 'kept': 2, 'exact': 1, 'near': 0}, None]"
is "the vocabulary's lineage: dedup's, with its counts, then tokenize's" "$($PY -c '
import msgpack, sys
h = next(iter(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)))
print([(e["program"], e.get("counts")) for e in h["lineage"]])' "$T/vf.sl")" \
	"[('sluice-dedup', {'records': 3, 'kept': 2, 'exact': 1, 'near': 0}), ('sluice-tokenize', None)]"
mk "$T/other.sl" bin '[b"x"]'
run sluice-tokenize --fit "$T/vf3.sl" --vocab-size 270 -o "$T/e3.sl" "$T/dd.sl" "$T/other.sl"
is "--fit on two inputs: both encoded, a header each" "$(sluice-cat --json "$T/e3.sl" | wc -l) $(nheaders "$T/e3.sl")" "3 3"
# the first bad record in input order is the one reported, whichever worker
# met it, even when a later batch also has one
$PY - "$T/badmany.sl" <<'PYEOF'
import msgpack, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["text", "str"]], "lineage": []}))
    for i in range(9000):
        f.write(msgpack.packb(["hello" if i not in (4500, 8800) else "hex"]))
PYEOF
run sluice-tokenize --threads 3 --apply "$T/vc.sl" -o "$T/bm.sl" "$T/badmany.sl"
ok_rc "a bad record in a later batch: exit 1" 1
is "... the first one is named, once" "$(cat "$T/err")" \
	"sluice-tokenize: $T/badmany.sl: record 4501: field \"text\": byte 2: a character not in the vocabulary"
is "... and no output is left" "$(ls "$T/bm.sl" 2>&1 >/dev/null | wc -l)" "1"
head -c 100000 "$T/many.sl" > "$T/cut.sl"
run sluice-tokenize --threads 2 --apply "$T/vbig.sl" "$T/cut.sl"
ok_rc "a truncated stream: exit 1" 1
like "... says where" "$(cat "$T/err")" "cut.sl: .*(truncated|record)"
for bad in 0 x 257; do
	run sluice-tokenize --threads $bad --apply "$T/vbig.sl" "$T/many.sl"
	ok_rc "--threads $bad: exit 2" 2
done

# bad usage and input
run sluice-tokenize "$T/a.sl"
ok_rc "no mode: exit 2" 2
run sluice-tokenize --apply "$T/a.sl" "$T/a.sl"
ok_rc "a stream that is not a vocabulary: exit 1" 1
like "... says so" "$(cat "$T/err")" "not a sluice-tokenize vocabulary"
run sluice-tokenize --apply "$T/v.sl" --field nope "$T/a.sl"
ok_rc "unknown field: exit 2" 2
$PY - "$T/badid.sl" <<'PYEOF'
import msgpack, struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["ids", "u16[]"]], "lineage": []}))
    f.write(msgpack.packb([struct.pack("<2H", 97, 9999)], use_bin_type=True))
PYEOF
run sluice-tokenize --decode "$T/v.sl" "$T/badid.sl"
ok_rc "an id beyond the vocabulary: exit 1" 1
like "... naming the id" "$(cat "$T/err")" "id 9999 at position 1"
done_testing

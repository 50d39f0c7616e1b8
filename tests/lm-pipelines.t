#!/bin/sh
# The language-model pipelines in a quick form: pipelines/fortunes on a
# small made-up fortune collection with a tiny GPT and a few steps, and
# pipelines/shakespeare on a made-up play.  Checks that every product is
# made, that make again with nothing changed does nothing, and that a clean
# rebuild gives byte-identical products, the model included.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
B=$(cd "$B" && pwd) # make -C runs elsewhere

mkdir -p "$T/f"
$PY - "$T/f" <<'PYEOF'
import random, sys
rnd = random.Random(3)
words = "the a cat dog man woman computer law life is was will never always " \
        "said when why who money love time work day night old new".split()
for name in ("alpha", "beta", "gamma"):
    with open(f"{sys.argv[1]}/{name}", "w") as f:
        for i in range(60):
            lines = [" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 9))).capitalize() + "."
                     for _ in range(rnd.randint(1, 3))]
            f.write("\n".join(lines) + "\n%\n")
PYEOF
FARGS="SLUICE_BIN=$B/bin FORTUNES=$T/f OUT=$T/fo VOCAB=300 LAYERS=1 HEADS=2 EMBD=16 CONTEXT=16 BATCH=4 STEPS=30 SAMPLES=10"
run make -C "$TOP/pipelines/fortunes" $FARGS
ok_rc "fortunes: the pipeline runs" 0
for f in fortunes profile.txt unique train val test vocab train.ids val.ids test.ids model eval.txt samples.txt; do
	case $f in *.txt) p=$T/fo/$f ;; *) p=$T/fo/$f.sl ;; esac
	[ -s "$p" ] && pass "fortunes: $f made" || fail "fortunes: $f made"
done
like "fortunes: eval.txt gives the perplexity on test" "$(cat "$T/fo/eval.txt")" "perplexity +[0-9.]+"
is "fortunes: eight samples" "$(grep -c '^--- sample' "$T/fo/samples.txt")" 8
run make -q -C "$TOP/pipelines/fortunes" $FARGS
ok_rc "fortunes: make -q says everything is up to date" 0
run make -C "$TOP/pipelines/fortunes" $FARGS
like "fortunes: make again runs nothing" "$(cat "$T/out")" "Nothing to be done|is up to date"
mkdir "$T/first"
cp "$T"/fo/*.sl "$T"/fo/*.txt "$T/first/"
make -C "$TOP/pipelines/fortunes" $FARGS clean >/dev/null 2>&1
run make -C "$TOP/pipelines/fortunes" $FARGS
ok_rc "fortunes: a clean rebuild runs" 0
same=1
for p in "$T"/first/*; do cmp -s "$p" "$T/fo/${p##*/}" || { same=0; diag "${p##*/} differs"; }; done
[ $same = 1 ] && pass "fortunes: a clean rebuild gives the same bytes (model, samples, all)" \
	|| fail "fortunes: a clean rebuild gives the same bytes (model, samples, all)"

# shakespeare: a made-up play of ASCII speeches
$PY - "$T/play.txt" <<'PYEOF'
import random, sys
rnd = random.Random(5)
who = ["ROMEO", "JULIET", "NURSE", "FRIAR"]
words = "thou art my love and I am thine o night fair sweet death come hence".split()
with open(sys.argv[1], "w") as f:
    for _ in range(300):
        f.write(rnd.choice(who) + ":\n" + " ".join(rnd.choice(words) for _ in range(rnd.randint(4, 12))) + ".\n\n")
PYEOF
SARGS="SLUICE_BIN=$B/bin DATA=$T/play.txt OUT=$T/so STEPS=20 LAYERS=1 HEADS=2 EMBD=16 SAMPLE=50"
run make -C "$TOP/pipelines/shakespeare" $SARGS
ok_rc "shakespeare: the pipeline runs" 0
n=$(wc -c < "$T/play.txt")
is "shakespeare: first 90% of the characters for training, the rest for validation" \
	"$(wc -c < "$T/so/train.txt") $(cat "$T/so/train.txt" "$T/so/val.txt" | cmp - "$T/play.txt" && echo whole)" \
	"$((n * 9 / 10)) whole"
like "shakespeare: eval.txt" "$(cat "$T/so/eval.txt")" "bits per byte +[0-9.]+"
like "shakespeare: the sample starts with its prompt" "$(head -c 6 "$T/so/sample.txt")" "^ROMEO:"
run make -q -C "$TOP/pipelines/shakespeare" $SARGS
ok_rc "shakespeare: make -q says everything is up to date" 0
cp "$T/so/model.sl" "$T/smodel.sl"
make -C "$TOP/pipelines/shakespeare" $SARGS clean >/dev/null 2>&1
make -C "$TOP/pipelines/shakespeare" $SARGS >/dev/null 2>&1
is_file "shakespeare: a clean rebuild gives the same model" "$T/so/model.sl" "$T/smodel.sl"
run make -C "$TOP/pipelines/shakespeare" SLUICE_BIN="$B/bin" OUT="$T/so"
ok_rc "shakespeare: no DATA is a usage error" 2
like "... that says what to give" "$(cat "$T/err")" "DATA=path/to/tinyshakespeare.txt"
done_testing

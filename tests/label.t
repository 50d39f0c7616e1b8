#!/bin/sh
# sluice-label: rules (every operator), spec files and their errors, joins
# with annotation streams, labels already in the input, review samples,
# agreement (a hand-computed example and scikit-learn's cohen_kappa_score),
# interactive labelling driven through tmux (answers, skip, undo, quit,
# resume, Ctrl-C), and bad input.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
L=sluice-label

# Six reviews: id, text, score (one missing), lang, ok (one missing).
$PY - "$T/in.sl" <<'PYEOF'
import msgpack, sys
rows = [(1, "I want a refund now", 0.1, "en", True),
        (2, "Great product, love it", 0.9, "en", True),
        (3, "meh", 0.5, "fr", False),
        (4, "Money back please", 0.95, "en", False),
        (5, "ok", None, "de", None),
        (6, "Thank you!", 0.8, "fr", True)]
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["id", "int"], ["text", "str"],
        ["score", "float"], ["lang", "str"], ["ok", "bool"]], "lineage": []}))
    for r in rows:
        f.write(msgpack.packb(list(r)))
PYEOF

# pairs FILE [FIELD]: "id=label ..." of a stream (label field by default)
pairs() {
	sluice-cat --tsv --no-header --fields "id,${2:-label}" "$1" |
		awk -F'\t' '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $1, $2 }'
}
# hits RULE: the ids a rule labels
hits() {
	$L --rule "$1" "$T/in.sl" 2>/dev/null |
		sluice-cat --tsv --no-header --fields id,label |
		awk -F'\t' '$2 != "" { printf "%s%s", (n++ ? " " : ""), $1 }'
}

# ---------------------------------------------------------------- rules
run $L --rule 'text~/refund|money back/i=complaint' --rule 'score>0.8=positive' \
	--rule 'lang==fr=french' -o "$T/r.sl" "$T/in.sl"
ok_rc "rules run" 0
is "rules: first match wins, missing values match nothing" "$(pairs "$T/r.sl")" \
	"1=complaint 2=positive 3=french 4=complaint 5= 6=french"
is "rules: counts on stderr" "$(cat "$T/err")" \
"sluice-label: 6 records: complaint 2 positive 1 french 2 unlabelled 1
sluice-label: labelled by rules 5"
is "rules: the whole record as JSON" "$(sluice-cat --json --head 1 "$T/r.sl")" \
	'{"id":1,"text":"I want a refund now","score":0.1,"lang":"en","ok":true,"label":"complaint"}'
is "lineage names the program and its arguments, not where the output went" "$(sluice-cat --lineage "$T/r.sl")" \
	'[{"program":"sluice-label","version":"0.1.0","args":["--rule","text~/refund|money back/i=complaint","--rule","score>0.8=positive","--rule","lang==fr=french","'"$T"'/in.sl"]}]'
$L --rule 'text~/refund|money back/i=complaint' --rule 'score>0.8=positive' \
	--rule 'lang==fr=french' -o"$T/r1.sl" "$T/in.sl" 2>/dev/null
is_file "same input and rules, same bytes (written elsewhere, -oFILE)" "$T/r1.sl" "$T/r.sl"
$L --rule 'text~/refund|money back/i=complaint' --rule 'score>0.8=positive' \
	--rule 'lang==fr=french' < "$T/in.sl" 2>/dev/null > "$T/r3.sl"
is "stdin to stdout gives the same labels" "$(pairs "$T/r3.sl")" "$(pairs "$T/r.sl")"
$L --zstd --rule '*=x' -o "$T/z.sl" "$T/in.sl" 2>/dev/null
is "--zstd writes a zstd frame" "$(head -c 4 "$T/z.sl" | od -An -tx1 | tr -d ' ')" "28b52ffd"
is "and it reads back" "$(pairs "$T/z.sl")" "1=x 2=x 3=x 4=x 5=x 6=x"

cat "$T/in.sl" "$T/in.sl" | $L --rule 'id>4=x' 2>/dev/null > "$T/two.sl"
is "two segments in, two out, each labelled" \
	"$(sluice-cat --schema "$T/two.sl" | grep -c 'segment .: 6 fields, 6 records')/$(pairs "$T/two.sl")" \
	"2/1= 2= 3= 4= 5=x 6=x 1= 2= 3= 4= 5=x 6=x"

is "rule >=" "$(hits 'score>=0.8=x')" "2 4 6"
is "rule <" "$(hits 'score<0.5=x')" "1"
is "rule <=" "$(hits 'score<=0.5=x')" "1 3"
is "rule ==" "$(hits 'score==0.5=x')" "3"
is "rule != (a missing value is not unequal)" "$(hits 'score!=0.5=x')" "1 2 4 6"
is "rule == on an int, exactly" "$(hits 'id==2=x')" "2"
is "rule > on an int with a fraction" "$(hits 'id>4.5=x')" "5 6"
is "rule < on str: byte order" "$(hits 'lang<en=x')" "5"
is "rule != on str" "$(hits 'lang!=en=x')" "3 5 6"
is "rule = means ==" "$(hits 'lang=fr=x')" "3 6"
is "rule with a quoted value" "$(hits 'lang=="en"=x')" "1 2 4"
is "rule ~ anchored" "$(hits 'text~/^M/=x')" "4"
is "rule ~ /i ignores case" "$(hits 'text~/^m/i=x')" "3 4"
is "rule !~" "$(hits 'text!~/e/=x')" "5 6"
is "rule on bool ==" "$(hits 'ok==true=x')" "1 2 6"
is "rule on bool !=" "$(hits 'ok!=true=x')" "3 4"
is "rule *" "$(hits '*=x')" "1 2 3 4 5 6"

run $L --rule 'text~/(unclosed/=x' "$T/in.sl"
ok_rc "bad regex: exit 2" 2
like "bad regex is named" "$(cat "$T/err")" "^sluice-label: rule 'text~/\(unclosed/=x': regex /\(unclosed/: "
run $L --rule 'nope>1=x' "$T/in.sl"
ok_rc "unknown field: exit 2" 2
is "unknown field is named with the input" "$(cat "$T/err")" \
	"sluice-label: $T/in.sl: rule 'nope>1=x': no field \"nope\""
run $L --rule 'score~/1/=x' "$T/in.sl"
ok_rc "regex on a float field: exit 2" 2
run $L --rule 'score>high=x' "$T/in.sl"
ok_rc "a word compared with a float field: exit 2" 2
like "and why" "$(cat "$T/err")" 'field "score" is float, and "high" is not a number'
run $L --rule 'score>0.5' "$T/in.sl"
ok_rc "rule without a label: exit 2" 2
run $L --rule 'ok<true=x' "$T/in.sl"
ok_rc "ordering a bool: exit 2" 2
run $L "$T/in.sl"
ok_rc "nothing to label with: exit 2" 2
run $L --rule '*=x' --field score "$T/in.sl"
ok_rc "label field that exists and is not str: exit 2" 2

# ----------------------------------------------------------------- spec
cat > "$T/spec" <<'EOF'
# sentiment
p   positive   praises the product
n   negative   complains
m   mixed
tab :skip
EOF
run $L --spec "$T/spec" --rule 'score>0.8=positive' --rule 'score<0.3=negative' -o "$T/s.sl" "$T/in.sl"
ok_rc "rules within the spec" 0
is "counts list every spec label in order" "$(head -n 1 "$T/err")" \
	"sluice-label: 6 records: positive 2 negative 1 mixed 0 unlabelled 3"
is "header lists the spec's labels" \
	"$($PY -c 'import msgpack,sys; print(next(iter(msgpack.Unpacker(open(sys.argv[1],"rb"),raw=False)))["labels"])' "$T/s.sl")" \
	"['positive', 'negative', 'mixed']"
run $L --spec "$T/spec" --rule 'score>0.8=great' "$T/in.sl"
ok_rc "rule label outside the spec: exit 2" 2
like "and it is named" "$(cat "$T/err")" 'label "great" is not in the spec'

spec_error() { # NAME SPEC-TEXT EXPECTED-MESSAGE-TAIL
	printf '%s\n' "$2" > "$T/bad.spec"
	run $L --spec "$T/bad.spec" --rule '*=p' "$T/in.sl"
	if [ "$rc" = 2 ] && [ "$(cat "$T/err")" = "sluice-label: $T/bad.spec: $3" ]; then
		pass "spec: $1"
	else
		fail "spec: $1"
		diag "exit $rc, stderr:" "$(cat "$T/err")" "want: sluice-label: $T/bad.spec: $3"
	fi
}
spec_error "a key bound twice" "p positive
# comment

n negative
p pizza" 'line 5: key "p" is already bound on line 1'
spec_error "a label given twice" "p positive
n positive" 'line 2: label "positive" is already on line 1'
spec_error "a key that is not one character" "pp positive" \
	'line 1: key "pp": want one printable character, or space, tab, enter, backspace or none'
spec_error "a key without a label" "p" 'line 1: want KEY LABEL [DESCRIPTION], not just "p"'
spec_error "an unknown action" "x :jump" 'line 1: unknown action ":jump": :skip, :undo or :quit'
spec_error "a label with =" "p a=b" "line 1: label \"a=b\": a label cannot hold '='"
spec_error "no labels at all" "# nothing" "no labels in the spec"
run $L --spec "$T/nonexistent.spec" --rule '*=p' "$T/in.sl"
ok_rc "missing spec file: exit 2" 2

# ----------------------------------------------------------------- join
$PY - "$T/ann.sl" "$T/conflict.sl" "$T/strids.sl" <<'PYEOF'
import msgpack, sys
def w(fn, fields, rows):
    with open(fn, "wb") as f:
        f.write(msgpack.packb({"sluice": 1, "fields": fields, "lineage": []}))
        for r in rows:
            f.write(msgpack.packb(r))
F = [["id", "int"], ["label", "str"], ["who", "str"]]
w(sys.argv[1], F, [[4, "negative", "ann"], [2, "positive", "ann"], [9, "positive", "ann"],
                   [1, None, "ann"], [2, "positive", "bob"]])
w(sys.argv[2], F, [[1, "negative", "ann"], [1, "positive", "bob"]])
w(sys.argv[3], [["id", "str"], ["label", "str"]], [["1", "negative"]])
PYEOF
run $L --join "$T/ann.sl" --id id --unlabelled "$T/todo.sl" -o "$T/j.sl" "$T/in.sl"
ok_rc "join runs" 0
is "join: labels by id" "$(pairs "$T/j.sl")" "1= 2=positive 3= 4=negative 5= 6="
is "join: counts and ids found" "$(cat "$T/err")" \
"sluice-label: 6 records: negative 1 positive 1 unlabelled 4
sluice-label: labelled by join 2
sluice-label: $T/ann.sl: 3 of 4 annotated ids found in the input"
is "--unlabelled gets the rest, as they came" "$(sluice-cat --json --fields id,text "$T/todo.sl" | tr '\n' ' ')" \
	'{"id":1,"text":"I want a refund now"} {"id":3,"text":"meh"} {"id":5,"text":"ok"} {"id":6,"text":"Thank you!"} '
is "--unlabelled has the input's fields" "$(sluice-cat --schema "$T/todo.sl" | grep -c '^  label ')" "0"
run $L --join "$T/ann.sl" --id id --rule 'lang==fr=french' -o "$T/jr.sl" "$T/in.sl"
is "join first, then rules" "$(pairs "$T/jr.sl")" "1= 2=positive 3=french 4=negative 5= 6=french"
run $L --join "$T/conflict.sl" --id id "$T/in.sl"
ok_rc "an id annotated with two labels: exit 1" 1
is "and the records are named" "$(cat "$T/err")" \
	"sluice-label: $T/conflict.sl: record 2: field \"label\": id 1 is labelled \"positive\" here but \"negative\" in record 1"
run $L --join "$T/strids.sl" --id id "$T/in.sl"
ok_rc "str ids against int ids: exit 2" 2
run $L --join "$T/ann.sl" "$T/in.sl"
ok_rc "--join without --id: exit 2" 2
run $L --join "$T/ann.sl" --id who2 "$T/in.sl"
ok_rc "--id not in the annotations: exit 2" 2
run $L --join "$T/ann.sl" --id id --spec "$T/spec" -o "$T/js.sl" "$T/in.sl"
ok_rc "annotations within the spec" 0
printf 'p positive\n' > "$T/small.spec"
run $L --join "$T/ann.sl" --id id --spec "$T/small.spec" "$T/in.sl"
ok_rc "annotation label outside the spec: exit 1" 1
like "and it is named" "$(cat "$T/err")" "ann.sl: record 1: field \"label\": label \"negative\": not in the spec"

# labels already in the input are kept; the rest are filled in
$L --join "$T/ann.sl" --id id "$T/in.sl" 2>/dev/null > "$T/part.sl"
run $L --rule 'lang==fr=french' --rule '*=other' -o "$T/fill.sl" "$T/part.sl"
is "kept labels, filled gaps" "$(pairs "$T/fill.sl")" "1=other 2=positive 3=french 4=negative 5=other 6=french"
is "kept labels counted as from the input" "$(tail -n 1 "$T/err")" \
	"sluice-label: labelled by input 2, rules 4"
is "no second label field" "$(sluice-cat --schema "$T/fill.sl" | grep -c '^  label ')" "1"

# ------------------------------------------------------------ bad input
run $L --rule '*=x' "$TOP/tests/malformed/truncated-record.bin"
ok_rc "truncated stream: exit 1" 1
like "names program and input" "$(cat "$T/err")" "^sluice-label: .*truncated-record.bin"
run $L --rule '*=x' -o "$T/none.sl" "$TOP/tests/malformed/truncated-record.bin"
if [ -e "$T/none.sl" ]; then fail "no output file after an error"; else pass "no output file after an error"; fi

# --------------------------------------------------------------- review
$PY - "$T/many.sl" <<'PYEOF'
import msgpack, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["id", "int"], ["label", "str"]], "lineage": []}))
    for i in range(1, 41):
        f.write(msgpack.packb([i, None if i % 4 == 0 else "l%d" % (i % 3)]))
PYEOF
run $L --review 5 --seed 3 -o "$T/rv.sl" "$T/many.sl"
ok_rc "review runs" 0
is "review: counts" "$(cat "$T/err")" "sluice-label: review sample: 5 of 30 labelled records (40 in all)"
is "review: the label field is left out" "$(sluice-cat --schema "$T/rv.sl" | grep -c '^  label ')" "0"
ids=$(sluice-cat --tsv --no-header "$T/rv.sl" | tr '\n' ' ')
like "review: five labelled records in input order" "$ids" '^([0-9]+ ){5}$'
is "review: none unlabelled, ordered" "$(printf '%s\n' $ids | awk '$1 % 4 == 0 || $1 <= p { bad = 1 } { p = $1 } END { print bad ? "bad" : "good" }')" "good"
sluice-dedup --trailer "$T/many.sl" 2>/dev/null > "$T/dd.sl"
$L --review 5 --seed 3 -o "$T/rvd.sl" "$T/dd.sl" 2>/dev/null
dedup_counts "review after dedup --trailer: its counts in the sample's lineage" "$T/rvd.sl" "$T/dd.sl"
cp "$T/rv.sl" "$T/rv1.sl"
$L --review 5 --seed 3 -o "$T/rv.sl" "$T/many.sl" 2>/dev/null
is_file "review: same seed, same bytes" "$T/rv.sl" "$T/rv1.sl"
$L --review 5 --seed 4 "$T/many.sl" 2>/dev/null > "$T/rv3.sl"
$L --review 5 --seed 3 "$T/many.sl" 2>/dev/null > "$T/rv4.sl"
if cmp -s "$T/rv4.sl" "$T/rv3.sl"; then fail "review: another seed, another sample"; else pass "review: another seed, another sample"; fi
$L --review 100 "$T/many.sl" 2>/dev/null > "$T/rvall.sl"
is "review: asking for more gives all labelled" "$(sluice-cat --tsv --no-header "$T/rvall.sl" | wc -l | tr -d ' ')" "30"
# uniform: over 300 seeds each of 10 records is drawn 3 in 10 times (90 expected, sd 7.9)
$PY - "$T/ten.sl" <<'PYEOF'
import msgpack, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["id", "int"]], "lineage": []}))
    for i in range(10):
        f.write(msgpack.packb([i]))
PYEOF
s=1
: > "$T/draws"
while [ $s -le 300 ]; do
	$L --review 3 --seed $s "$T/ten.sl" 2>/dev/null | sluice-cat --tsv --no-header >> "$T/draws"
	s=$((s + 1))
done
is "review: uniform over 300 seeds (each record 60..120 of 300)" \
	"$(sort -n "$T/draws" | uniq -c | awk '$1 < 60 || $1 > 120 { bad++ } END { print NR, bad + 0 }')" "10 0"
run $L --review 0 "$T/many.sl"
ok_rc "--review 0: exit 2" 2
run $L --review 2 --rule '*=x' "$T/many.sl"
ok_rc "--review with a rule: exit 2" 2

# ------------------------------------------------------------ agreement
# By hand: 10 items in both (ids 1-10), id 11 only in A, 12 only in B,
# 13 in both but unlabelled in B.
#   A: a a a a b b b c c c      confusion (rows A)   a  b  c
#   B: a a a b b b c c c a          a                 3  1  0
#                                   b                 0  2  1
#                                   c                 1  0  2
# p_o = 7/10, p_e = (4*4 + 3*3 + 3*3)/100 = 0.34, kappa = 0.36/0.66 = 6/11
# per label: a 2*3/8 = 0.75, b 2*2/6, c 2*2/6
$PY - "$T/A.sl" "$T/B.sl" <<'PYEOF'
import msgpack, sys
def w(fn, rows):
    with open(fn, "wb") as f:
        f.write(msgpack.packb({"sluice": 1, "fields": [["doc", "int"], ["label", "str"]], "lineage": []}))
        for r in rows:
            f.write(msgpack.packb(r))
A = "aaaabbbccc"; B = "aaabbbccca"
w(sys.argv[1], [[i + 1, A[i]] for i in range(10)] + [[11, "a"], [13, "b"]])
w(sys.argv[2], [[i + 1, B[i]] for i in range(10)][::-1] + [[12, "c"], [13, None]])
PYEOF
run $L --agreement "$T/A.sl" "$T/B.sl" --id doc --text
ok_rc "agreement runs" 0
is "agreement: the text report" "$(cat "$T/out")" \
"items          10 (labelled in both $T/A.sl and $T/B.sl)
only in A      1
only in B      1
unlabelled     1 (in both, a label missing)
observed       0.7000
expected       0.3400
Cohen's kappa  0.5455

label       A       B    both  agreement
a           4       4       3  0.7500
b           3       3       2  0.6667
c           3       3       2  0.6667

confusion (rows: A, columns: B)
            a       b       c
a           3       1       0
b           0       2       1
c           1       0       2"
is "agreement: summary on stderr" "$(cat "$T/err")" \
	"sluice-label: 10 items labelled in both: observed agreement 0.7000, Cohen's kappa 0.5455"
run $L --agreement "$T/A.sl" "$T/B.sl" --id doc -o "$T/agree.sl"
ok_rc "agreement as a stream" 0
is "agreement stream: kappa 6/11, counts and confusion rows" "$($PY - "$T/agree.sl" <<'PYEOF'
import msgpack, sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
h = objs[0]
print(abs(h["kappa"] - 6 / 11) < 1e-15, h["observed"], h["expected"], h["items"],
      h["only_a"], h["only_b"], h["unlabelled"], h["labels"])
print([f[0] + ":" + f[1] for f in h["fields"]])
for r in objs[1:]:
    print(r[0], r[1], r[2], r[3], round(r[4], 6), list(memoryview(r[5]).cast("q")))
PYEOF
)" "True 0.7 0.34 10 1 1 1 ['a', 'b', 'c']
['label:str', 'a:int', 'b:int', 'both:int', 'agreement:float', 'confusion:i64[3]']
a 4 4 3 0.75 [3, 1, 0]
b 3 3 2 0.666667 [0, 2, 1]
c 3 3 2 0.666667 [1, 0, 2]"

# against scikit-learn: 500 items, five int labels, correlated annotators
$PY - "$T/A2.sl" "$T/B2.sl" <<'PYEOF'
import msgpack, random, sys
rnd = random.Random(11)
A, B = [], []
for i in range(500):
    a = rnd.randrange(5)
    b = a if rnd.random() < 0.6 else rnd.choice([0, 0, 1, 2, 3, 4])
    A.append([str(i), a]); B.append([str(i), b])
rnd.shuffle(B)
for fn, rows in ((sys.argv[1], A), (sys.argv[2], B)):
    with open(fn, "wb") as f:
        f.write(msgpack.packb({"sluice": 1, "fields": [["id", "str"], ["y", "int"]], "lineage": []}))
        for r in rows:
            f.write(msgpack.packb(r))
PYEOF
$L --agreement "$T/A2.sl" "$T/B2.sl" --id id --label y -o "$T/agree2.sl" 2>/dev/null
is "kappa, per-label agreement and confusion equal scikit-learn's" "$($PY - "$T/A2.sl" "$T/B2.sl" "$T/agree2.sl" <<'PYEOF'
import msgpack, sys
from sklearn.metrics import cohen_kappa_score, confusion_matrix
def load(fn):
    return {r[0]: r[1] for r in list(msgpack.Unpacker(open(fn, "rb"), raw=False))[1:]}
A, B = load(sys.argv[1]), load(sys.argv[2])
ids = sorted(A)
a = [A[i] for i in ids]; b = [B[i] for i in ids]
objs = list(msgpack.Unpacker(open(sys.argv[3], "rb"), raw=False))
h = objs[0]
k = cohen_kappa_score(a, b)
cm = confusion_matrix(a, b, labels=[0, 1, 2, 3, 4])
ok = abs(h["kappa"] - k) < 1e-12 and h["labels"] == ["0", "1", "2", "3", "4"]
for i, r in enumerate(objs[1:]):
    ok &= list(memoryview(r[5]).cast("q")) == list(cm[i])
    ok &= abs(r[4] - 2 * cm[i][i] / (cm[i].sum() + cm[:, i].sum())) < 1e-15
print("equal" if ok else "differ: ours %r sklearn %r" % (h["kappa"], k))
PYEOF
)" "equal"
if command -v script >/dev/null 2>&1; then
	(cd "$T" && script -qc "$B/bin/sluice-label --agreement A.sl B.sl --id doc 2>/dev/null" tty.log < /dev/null) |
		tr -d '\r' > "$T/tty.out"
	is "agreement: text by default on a terminal" "$(sed -n 7p "$T/tty.out")" "Cohen's kappa  0.5455"
else
	pass "agreement on a terminal # SKIP no script(1)"
fi
run $L --agreement "$T/A.sl" --id doc
ok_rc "--agreement with one stream: exit 2" 2
run $L --agreement "$T/A.sl" "$T/B.sl"
ok_rc "--agreement without --id: exit 2" 2
run $L --agreement "$T/A.sl" "$T/many.sl" --id doc
ok_rc "--agreement on a stream without the id field: exit 2" 2

# ---------------------------------------------------------- interactive
run $L -i --resume "$T/x.session" "$T/in.sl"
ok_rc "--interactive without --spec: exit 2" 2
run $L -i --spec "$T/spec" "$T/in.sl"
ok_rc "--interactive without --resume: exit 2" 2
if command -v setsid >/dev/null 2>&1; then
	run setsid $L -i --spec "$T/spec" --resume "$T/x.session" "$T/in.sl"
	ok_rc "--interactive with no terminal: exit 2" 2
	like "and it says so" "$(cat "$T/err")" "cannot use the terminal /dev/tty"
fi

if ! command -v tmux >/dev/null 2>&1; then
	pass "# skip no tmux"
else
	TM="tmux -f /dev/null -S $T/tmux.sock"
	pane=0
	# screen REGEX: waits up to 30 s for the pane to show a whole screen
	# (down to the "> " prompt) with a line matching REGEX
	screen() {
		i=0
		while [ $i -lt 300 ]; do
			$TM capture-pane -p -t "p$pane" > "$T/screen" 2>/dev/null
			if grep -Eq -- "$1" "$T/screen" && grep -q '^>' "$T/screen"; then return 0; fi
			sleep 0.1
			i=$((i + 1))
		done
		return 1
	}
	# finished: waits up to 30 s for the command in the pane to end
	finished() {
		i=0
		while [ $i -lt 300 ] && [ ! -s "$T/rc" ]; do sleep 0.1; i=$((i + 1)); done
		[ -s "$T/rc" ]
	}
	# start ARGS: runs sluice-label in a new tmux pane (SIGINT ignored by
	# the wrapping shell, so it can report the status), terminal modes saved
	start() {
		rm -f "$T/rc" "$T/before" "$T/after"
		[ $pane -gt 0 ] && $TM kill-session -t "p$pane" 2>/dev/null
		pane=$((pane + 1))
		printf '%s\n' "trap '' INT; cd '$T'; stty -g > before" \
			"'$B/bin/sluice-label' $* 2> ierr; echo \$? > rc.tmp" \
			"stty -g > after; mv rc.tmp rc; sleep 60" > "$T/pane.sh"
		$TM new-session -d -s "p$pane" -x 100 -y 40 "sh '$T/pane.sh'"
	}
	key() { $TM send-keys -t "p$pane" "$@"; }
	IARGS="-i --spec spec --resume s.session --show id,text -o out.sl in.sl"

	start "$IARGS"
	screen '^record 1 ' && pass "tty: shows the first record" || { fail "tty: shows the first record"; diag "$(cat "$T/screen")"; }
	is "tty: the record's fields and the keys" "$(sed -n '3,10p' "$T/screen")" \
"id: 1
text: I want a refund now
------------------------------------------------------------------------
  p         positive  praises the product
  n         negative  complains
  m         mixed
  tab skip | backspace undo | q quit
>"
	key p; screen '^record 2 '
	key z; screen 'key z gives no label' && pass "tty: an unbound key is refused" || fail "tty: an unbound key is refused"
	key n; screen '^record 3 '
	key Tab; screen '^record 4 '
	key BSpace; screen 'took back the answer for record 3' && pass "tty: undo goes back to record 3" || { fail "tty: undo goes back to record 3"; diag "$(cat "$T/screen")"; }
	like "tty: record 3 is shown again" "$(head -n 1 "$T/screen")" '^record 3 '
	key m; screen '^record 4 '
	key q
	finished && pass "tty: q quits" || fail "tty: q quits"
	is "tty: quit exits 0" "$(cat "$T/rc")" "0"
	is_file "tty: terminal modes restored after quit" "$T/after" "$T/before"
	is "tty: output has every record, answers so far" "$(pairs "$T/out.sl")" \
		"1=positive 2=negative 3=mixed 4= 5= 6="
	is "tty: counts" "$(cat "$T/ierr")" \
"sluice-label: 6 records: positive 1 negative 1 mixed 1 unlabelled 3
sluice-label: labelled by session 0, terminal 3; skipped 0
sluice-label: quit before the end: --resume s.session carries on from there"
	is "tty: session holds the answers in order" \
		"$(sluice-cat --tsv --no-header --fields record,label "$T/s.session" | tr '\t\n' ': ')" \
		"1:positive 2:negative 3:mixed "

	# resume: starts at record 4; skip it, answer 5, then Ctrl-C
	cp "$T/out.sl" "$T/out1.sl"
	start "$IARGS"
	screen '^record 4 ' && pass "resume: carries on at record 4" || { fail "resume: carries on at record 4"; diag "$(cat "$T/screen")"; }
	key Tab; screen '^record 5 '
	key p; screen '^record 6 '
	key C-c
	finished && pass "Ctrl-C ends it" || fail "Ctrl-C ends it"
	is "Ctrl-C: dies of SIGINT" "$(cat "$T/rc")" "130"
	is_file "Ctrl-C: terminal modes restored" "$T/after" "$T/before"
	is "Ctrl-C: says where the answers are" "$(cat "$T/ierr")" \
		"sluice-label: interrupted: 5 answers kept in s.session"
	is "Ctrl-C: the session has every answer (skip as nil)" \
		"$(sluice-cat --tsv --no-header --fields record,label "$T/s.session" | tr '\t\n' ': ')" \
		"1:positive 2:negative 3:mixed 4: 5:positive "
	is "Ctrl-C: no temporary file left" "$(ls -a "$T" | grep -c 'sluice-')" "0"
	is_file "Ctrl-C: the earlier -o output is untouched" "$T/out.sl" "$T/out1.sl"

	# resume again: only record 6 is asked; then finish at the end screen
	start "$IARGS"
	screen '^record 6 ' && pass "resume after Ctrl-C: record 6" || fail "resume after Ctrl-C: record 6"
	key n; screen '^end of input'
	key BSpace; screen '^record 6 ' && pass "undo at the end of input" || fail "undo at the end of input"
	key p; screen '^end of input'
	key Enter
	finished
	is "finish: exit 0" "$(cat "$T/rc")" "0"
	is "finish: all labels, skip left unlabelled" "$(pairs "$T/out.sl")" \
		"1=positive 2=negative 3=mixed 4= 5=positive 6=positive"
	is "finish: counts by source" "$(sed -n 2p "$T/ierr")" \
		"sluice-label: labelled by session 4, terminal 1; skipped 1"

	# a session kept by id joins like any annotation stream
	start "-i --spec spec --resume id.session --id id -o idout.sl --rule 'lang==en=positive' in.sl"
	screen '^record 3   id 3 ' && pass "by id: rules label the rest first" || { fail "by id: rules label the rest first"; diag "$(cat "$T/screen")"; }
	key n; screen '^record 5 '
	key m; screen '^record 6 '
	key q; finished
	$L --join "$T/id.session" --id id "$T/in.sl" 2>/dev/null > "$T/fromsession.sl"
	is "by id: the session is an annotation stream" "$(pairs "$T/fromsession.sl")" "1= 2= 3=negative 4= 5=mixed 6="

	start "-i --spec spec --resume none.session --show nope in.sl"
	finished
	is "--show with an unknown field: exit 2" "$(cat "$T/rc")/$(cat "$T/ierr")" \
		"2/sluice-label: in.sl: --show: no field \"nope\""
	is_file "and the terminal is restored" "$T/after" "$T/before"

	# a record-numbered session on another input is refused
	$L --rule '*=x' --field other "$T/in.sl" 2>/dev/null > "$T/other.sl"
	run $L --resume "$T/s.session" --spec "$T/spec" "$T/other.sl"
	ok_rc "session on another input: exit 1" 1
	like "and it says so" "$(cat "$T/err")" "record 1 is not the record .*s.session labelled"
	run $L --resume "$T/s.session" --id id --spec "$T/spec" "$T/in.sl"
	ok_rc "a record-numbered session with --id: exit 2" 2
	$TM kill-server 2>/dev/null
fi
done_testing

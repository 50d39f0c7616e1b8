#!/bin/sh
# sluice-ingest.  First every case under tests/data/{csv,json,text}: an
# input, its arguments (NAME.args, optional) and either the stream it must
# give (NAME.out: the stream as tests/msgpack2json.py prints it, lineage
# left out) or the message it must fail with (NAME.err, exit 1).  Then IDX
# files built here, the shared options, several inputs, format detection,
# usage errors and byte-identical output.
. "$(dirname "$0")/lib.sh"

py=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import msgpack' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
	echo "1..0 # SKIP needs python3 with msgpack to read the output"
	exit 0
fi
# j_of FILE [--lineage]: the stream in FILE as JSON lines, in $T/json.
j_of() {
	"$py" "$TOP/tests/msgpack2json.py" "$@" >"$T/json"
}

# ------------------------------------------------------------ data cases
for dir in csv json text; do
	cd "$TOP/tests/data/$dir" || exit 1
	for f in *; do
		case $f in *.args | *.out | *.err) continue ;; esac
		args=
		[ -f "$f.args" ] && args=$(cat "$f.args")
		# shellcheck disable=SC2086 # the arguments are words
		run sluice-ingest $args "$f"
		if [ -f "$f.err" ]; then
			ok_rc "$dir/$f fails" 1
			is_file "$dir/$f: the message" "$T/err" "$f.err"
		elif [ -f "$f.out" ]; then
			ok_rc "$dir/$f" 0
			j_of "$T/out"
			is_file "$dir/$f: the stream" "$T/json" "$f.out"
		else
			fail "$dir/$f has a .out or .err"
		fi
	done
done
cd "$T" || exit 1
D=$TOP/tests/data

# ------------------------------------------------------------------- IDX
# Three 2x2 u8 images and their labels, as MNIST's files are laid out.
printf '\000\000\010\003\000\000\000\003\000\000\000\002\000\000\000\002' >img
printf '\001\002\003\004\005\006\007\010\011\012\013\014' >>img
printf '\000\000\010\001\000\000\000\003\007\010\011' >lab
cat >want <<'EOF'
{"header": {"sluice": 1, "fields": [["image", "u8[4]"], ["label", "int"]], "image_shape": [2, 2]}}
[{"bin": "01020304"}, 7]
[{"bin": "05060708"}, 8]
[{"bin": "090a0b0c"}, 9]
EOF
run sluice-ingest --format idx --labels lab img
ok_rc "idx: images and labels" 0
j_of "$T/out"
is_file "idx: one record per image, its label beside it" "$T/json" want
gzip -c img >img-idx3-ubyte.gz
gzip -c lab >lab.gz
run sluice-ingest --labels lab.gz img-idx3-ubyte.gz
ok_rc "idx: gzip, format told by the MNIST-style name" 0
j_of "$T/out"
is_file "idx: gzip reads the same" "$T/json" want

run sluice-ingest --format idx lab
j_of "$T/out"
is "idx: a one-dimensional file alone gives labels" "$(cat "$T/json")" '{"header": {"sluice": 1, "fields": [["label", "int"]]}}
[7]
[8]
[9]'

# i16 elements are big-endian in IDX and little-endian in the stream
printf '\000\000\013\002\000\000\000\001\000\000\000\002\001\002\377\376' >i16
run sluice-ingest --format idx i16
j_of "$T/out"
is "idx: i16 elements are byte-swapped to little-endian" "$(cat "$T/json")" \
	'{"header": {"sluice": 1, "fields": [["image", "i16[2]"]], "image_shape": [2]}}
[{"bin": "0201feff"}]'

idx_fails() { # NAME ARGS... ; the last message line must match $want
	name=$1
	shift
	run sluice-ingest --format idx "$@"
	ok_rc "idx: $name fails" 1
	like "idx: $name is explained" "$(cat "$T/err")" "$want"
}
printf '\000\000\010\003\000\000\000\003' >short-header
want='^sluice-ingest: short-header: the IDX header is truncated$'
idx_fails "a truncated header" short-header
printf '\000\001\010\003' >bad-magic
want='^sluice-ingest: bad-magic: not an IDX file \(bad magic 00 01 08 03\)$'
idx_fails "bad magic" bad-magic
head -c 25 img >short-img
want='^sluice-ingest: short-img: truncated: item 3 of 3 is cut short$'
idx_fails "a truncated images file" --labels lab short-img
head -c 10 lab >short-lab
want='^sluice-ingest: short-lab: truncated: label 3 of 3 is missing$'
idx_fails "a truncated labels file" --labels short-lab img
printf '\000\000\010\001\000\000\000\002\007\010' >two-labels
want='^sluice-ingest: two-labels has 2 labels but img has 3 items$'
idx_fails "counts that differ" --labels two-labels img
cp img long-img
printf 'x' >>long-img
want='^sluice-ingest: long-img: bytes after the last of its 3 items$'
idx_fails "bytes after the last item" long-img
head -c 30 img-idx3-ubyte.gz >cut.gz
want='^sluice-ingest: cut.gz: the gzip data is truncated$'
idx_fails "truncated gzip" cut.gz
want='^sluice-ingest: lab is one-dimensional: labels, not images$'
idx_fails "labels as images" --labels lab lab

# ------------------------------------------------- inputs and the options
cp "$D/csv/quoted.csv" "$D/csv/crlf.csv" .
run sh -c "sluice-ingest < quoted.csv"
ok_rc "standard input" 0
j_of "$T/out"
is_file "standard input reads the same" "$T/json" "$D/csv/quoted.csv.out"
run sh -c "printf 'a,b\n1\n' | sluice-ingest"
is "standard input is named (stdin)" "$(cat "$T/err")" \
	"sluice-ingest: (stdin): line 2: 1 field, but the header has 2 (--pad fills short records with missing values)"

gzip -c quoted.csv >quoted.csv.gz
run sluice-ingest quoted.csv.gz
j_of "$T/out"
is_file "gzip CSV is read, its format told by the name under .gz" "$T/json" "$D/csv/quoted.csv.out"

cat quoted.csv >again.csv
run sluice-ingest quoted.csv again.csv
ok_rc "two inputs with the same fields" 0
j_of "$T/out"
{ cat "$D/csv/quoted.csv.out"; tail -n +2 "$D/csv/quoted.csv.out"; } >want
is_file "two inputs give one segment, records in order" "$T/json" want
run sluice-ingest quoted.csv crlf.csv
ok_rc "inputs with other fields fail" 1
is "the message names both" "$(cat "$T/err")" \
	"sluice-ingest: crlf.csv: line 1: 2 fields in the header row, but quoted.csv has 3"

run sluice-ingest --pad quoted.csv
j_of "$T/out" --lineage
like "the lineage holds the arguments as given, in order" "$(head -n 1 "$T/json")" \
	'"lineage": \[\{"program": "sluice-ingest", "version": "0.1.0", "args": \["--pad", "quoted.csv"\]\}\]'
run sluice-ingest quoted.csv --pad
j_of "$T/out" --lineage
like "options after the files are recorded where they were" "$(head -n 1 "$T/json")" \
	'"args": \["quoted.csv", "--pad"\]'

run sluice-ingest -o out.sl quoted.csv
ok_rc "-o FILE" 0
j_of out.sl
is_file "-o writes the stream to the file" "$T/json" "$D/csv/quoted.csv.out"
printf 'a,b\n1,2\n3\n' >ragged.csv
run sluice-ingest -o failed.sl ragged.csv
ok_rc "a failed run" 1
is "leaves no output file, not even a temporary one" "$(ls -A | grep -c failed)" 0

if command -v zstd >/dev/null; then
	run sluice-ingest --zstd=5 quoted.csv
	zstd -dc "$T/out" >plain.sl 2>/dev/null
	j_of plain.sl
	is_file "--zstd compresses the stream" "$T/json" "$D/csv/quoted.csv.out"
else
	pass "--zstd # skip zstd is not installed"
fi

run sluice-ingest --replace-invalid "$D/csv/replace-invalid.csv"
is "--replace-invalid counts what it replaced on stderr" "$(cat "$T/err")" \
	"sluice-ingest: replaced 1 invalid UTF-8 sequence with U+FFFD"

run sluice-ingest "$D/csv/control-name.csv"
is "control characters in a name: a warning" "$(cat "$T/err")" \
	"sluice-ingest: $D/csv/control-name.csv: field 2: the name \"Total\\n(2020)\" holds control characters; they are spaces in the header"

run sluice-ingest no-such.csv
ok_rc "a missing input" 1
is "is named" "$(cat "$T/err")" "sluice-ingest: no-such.csv: No such file or directory"
mkdir adir
run sluice-ingest --format csv adir
is "a directory read as CSV" "$(cat "$T/err")" \
	"sluice-ingest: adir: is a directory (--format dir reads a tree)"

# Records that straddle the 1 MiB input blocks: 60000 records with quoted
# line breaks and doubled quotes.
awk 'BEGIN { print "id,text,x"; for (i = 1; i <= 60000; i++)
	printf "%d,\"line one \"\"%d\"\"\nline two\",%d.5\n", i, i, i }' >big.csv
run sluice-ingest big.csv
ok_rc "a 3 MB CSV" 0
j_of "$T/out"
is "every record arrives" "$(wc -l <"$T/json" | tr -d ' ')" 60001
is "the last one whole" "$(tail -n 1 "$T/json")" '[60000, "line one \"60000\"\nline two", 60000.5]'
run sluice-ingest big.csv
cp "$T/out" first.sl
run sluice-ingest big.csv
is_file "the same input gives byte-identical output" "$T/out" first.sl

if [ -x "$B/bin/sluice-cat" ]; then
	run sh -c "sluice-ingest quoted.csv | sluice-cat --csv | sluice-ingest"
	j_of "$T/out"
	is_file "sluice cat --csv | sluice ingest is exact (missing and empty kept apart)" \
		"$T/json" "$D/csv/quoted.csv.out"
else
	pass "round trip through sluice-cat # skip sluice-cat is not built"
fi

F=/usr/share/games/fortunes/fortunes
if [ -f "$F" ]; then
	run sluice-ingest --format fortune "$F"
	j_of "$T/out"
	is "fortunes: one record per %-separated entry" \
		"$(($(wc -l <"$T/json") - 1))" "$(grep -c '^%$' "$F")"
else
	pass "fortunes # skip Debian's fortunes are not installed"
fi

cp -R "$D/text/tree" moved
run sluice-ingest --format dir ./moved/
j_of "$T/out"
is "dir: ids do not depend on where the tree lies or how it is named" \
	"$(cut -d'"' -f6 "$T/json")" "$(cut -d'"' -f6 "$D/text/tree.out")"
is "dir: sources are the paths as reached" "$(sed -n 2p "$T/json")" \
	"$(sed -n 2p "$D/text/tree.out" | sed 's|tree/|./moved/|')"

# ------------------------------------------------------ formats and usage
printf 'a\n1\n' >plain
run sluice-ingest plain
j_of "$T/out"
is "no known extension: CSV" "$(head -n 1 "$T/json")" \
	'{"header": {"sluice": 1, "fields": [["a", "int"]]}}'
printf '{"a": 1}\n' >one.json
run sluice-ingest quoted.csv one.json
ok_rc "inputs whose names disagree on the format" 2
is "are a usage error" "$(head -n 1 "$T/err")" \
	"sluice-ingest: quoted.csv looks like csv but one.json like json; say which with --format"

usage_error() { # NAME ARGS...
	name=$1
	shift
	run sluice-ingest "$@"
	ok_rc "usage error: $name" 2
	like "usage error: $name prints the usage" "$(cat "$T/err")" "usage: sluice-ingest"
}
usage_error "unknown format" --format xml quoted.csv
usage_error "--types without a type" --types a quoted.csv
usage_error "--types with an unknown type" --types name:text quoted.csv
usage_error "--types naming no field" --types nope:str quoted.csv
usage_error "--infer-rows 0" --infer-rows 0 quoted.csv
usage_error "--labels without idx" --labels lab quoted.csv
usage_error "--no-header on JSON" --no-header one.json
usage_error "--na on text" --format lines --na NA quoted.csv
usage_error "--types on text" --format lines --types text:str quoted.csv
usage_error "--no-provenance on CSV" --no-provenance quoted.csv
usage_error "dir without a directory" --format dir
usage_error "two images files" --format idx img img
usage_error "an unknown option" --bogus
done_testing

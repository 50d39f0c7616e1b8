#!/bin/sh
# The Python examples of sluice-stream(5) run against the library: the
# writer example must give the very bytes the library writes for the same
# values, the C reader must read what it wrote, and the reader example
# must print what the page says, for a stream the library wrote (plain,
# with two segments, and through zstd).  The code is taken from the man
# page itself, so the page cannot drift from what works.
. "$(dirname "$0")/lib.sh"

PAGE=$TOP/man/sluice-stream.5
INTEROP=$B/tests/interop

# A python3 with msgpack and numpy: the one on PATH, or the system's.
py=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import msgpack, numpy' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ] || [ ! -x "$INTEROP" ]; then
	echo "1..0 # SKIP needs python3 with msgpack and numpy, and $INTEROP"
	exit 0
fi

# Writes the literal block that follows the comment '.\" test: NAME' in the
# page to $T/NAME, with the roff escapes it uses turned back into text.
extract() {
	awk -v want="$1" '
		$0 == ".\\\" test: " want { on = 1; next }
		on && /^\.Bd / { copy = 1; next }
		copy && /^\.Ed/ { exit }
		copy { gsub(/\\e/, "\\"); gsub(/\\\(:e/, "\303\253"); gsub(/\\&/, ""); print }
	' "$PAGE" >"$T/$1"
	if [ -s "$T/$1" ]; then pass "the page has the example $1"; else fail "the page has the example $1"; fi
}
extract write.py
extract read.py
extract read.out

run "$py" "$T/write.py" "$T/py.sl"
ok_rc "the Python writer example runs" 0
run "$INTEROP" write "$T/c.sl"
ok_rc "the library writes the same values" 0
is_file "Python and the library write identical bytes" "$T/py.sl" "$T/c.sl"

run "$INTEROP" read "$T/py.sl"
ok_rc "the library reads the Python-written stream value for value" 0
[ "$rc" = 0 ] || diag "$(grep -v '^ok' "$T/out")"

run "$py" "$T/read.py" "$T/c.sl"
ok_rc "the Python reader example runs" 0
is_file "it prints what the page says" "$T/out" "$T/read.out"

cat "$T/c.sl" "$T/py.sl" >"$T/two.sl"
run "$py" "$T/read.py" "$T/two.sl"
cat "$T/read.out" "$T/read.out" >"$T/two.out"
is_file "it reads two segments" "$T/out" "$T/two.out"
run "$INTEROP" read "$T/two.sl"
ok_rc "so does the library" 0

if command -v zstd >/dev/null; then
	zstd -q -c "$T/two.sl" >"$T/two.sl.zst"
	run sh -c "zstd -dc \"$T/two.sl.zst\" | \"$py\" \"$T/read.py\" /dev/stdin"
	is_file "the page's zstd pipe reads a compressed stream" "$T/out" "$T/two.out"
	run "$INTEROP" read "$T/two.sl.zst"
	ok_rc "the library reads it directly" 0
else
	pass "compressed stream # skip zstd is not installed"
	pass "compressed stream # skip zstd is not installed"
fi

# sluice-cat shows the values the Python example wrote.
if [ -x "$B/bin/sluice-cat" ]; then
	run sluice-cat --json "$T/py.sl"
	ok_rc "sluice-cat --json reads the Python-written stream" 0
	cat >"$T/want.jsonl" <<-'EOF'
	{"id":1,"name":"ada","score":0.5,"ok":true,"emb":[0.25,-1.0,2.0]}
	{"id":300,"name":"Zoë","score":0.1,"ok":false,"emb":[1.5,0.0,-0.125]}
	{"id":-40,"name":null,"score":null,"ok":null,"emb":null}
	EOF
	is_file "sluice-cat --json shows the values Python wrote" "$T/out" "$T/want.jsonl"
else
	pass "sluice-cat --json # skip sluice-cat is not built"
	pass "sluice-cat --json # skip sluice-cat is not built"
fi
done_testing

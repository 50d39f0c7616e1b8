#!/bin/sh
# Every program has a man page that mandoc accepts, answers --help and
# --version with exit 0, and rejects an unknown option with exit 2.
. "$(dirname "$0")/lib.sh"

for src in "$TOP"/filters/*.c; do
	stage=$(basename "$src" .c)
	prog=sluice-$stage
	[ "$stage" = sluice ] && prog=sluice
	page=$TOP/man/$prog.1
	if [ -f "$page" ]; then pass "$prog has a man page"; else fail "$prog has a man page"; fi
	if command -v mandoc >/dev/null; then
		run mandoc -Tlint -W warning "$page"
		if [ "$rc" = 0 ] && [ ! -s "$T/out" ]; then pass "$prog.1 is mandoc -Tlint clean"; else
			fail "$prog.1 is mandoc -Tlint clean"
			diag "$(cat "$T/out" "$T/err")"
		fi
	fi
	run "$prog" --help
	ok_rc "$prog --help exits 0" 0
	like "$prog --help prints a usage line" "$(head -n 1 "$T/out")" "^usage: $prog"
	run "$prog" --version
	is "$prog --version" "$(cat "$T/out")" "$prog 0.1.0"
	if [ "$stage" != sluice ]; then
		run "$prog" --no-such-option
		ok_rc "$prog rejects an unknown option with 2" 2
	fi
done
for page in "$TOP"/man/*.5; do
	[ -f "$page" ] || continue
	run mandoc -Tlint -W warning "$page"
	if [ "$rc" = 0 ] && [ ! -s "$T/out" ]; then pass "$(basename "$page") is mandoc -Tlint clean"; else
		fail "$(basename "$page") is mandoc -Tlint clean"
		diag "$(cat "$T/out")"
	fi
done
done_testing

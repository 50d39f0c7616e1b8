#!/bin/sh
# Runs every C unit test binary (tests/unit/*.c, built by make) as a subtest.
. "$(dirname "$0")/lib.sh"
for t in "$B"/tests/*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	if "$t" >"$T/$name.tap" 2>&1; then pass "unit test $name"; else
		fail "unit test $name"
		diag "$(grep -v '^ok' "$T/$name.tap" | head -n 30)"
	fi
done
done_testing

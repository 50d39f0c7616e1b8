# tests/lib.sh - sourced by every tests/*.t: a tiny TAP library for shell.
#
# Programs are found in $SLUICE_BUILD/bin (set by `make check`; defaults to
# build/).  Each test file gets a private scratch directory $T, removed at exit.
#
#   run CMD ARGS...        runs CMD; stdout in $T/out, stderr in $T/err, status in $rc
#   is NAME GOT WANT       passes when the two strings are equal (shows both if not)
#   is_file NAME FILE WANT_FILE   passes when the files are byte-identical (diff if not)
#   ok_rc NAME WANT        passes when the last run's status was WANT
#   like NAME GOT REGEX    passes when GOT matches the extended regex
#   pass NAME / fail NAME  unconditional outcomes for tests computed by hand
#   trail FILE             for a stream ending in a --trailer header: whether the
#                          last object is a header with the first's fields, how
#                          many headers, and the counts of the last one's lineage
#   trailer_refusals STAGE STATE FITINPUT
#                          --apply STATE --trailer on $T/dup.sl cut short: exit 1
#                          and nothing written, to -o or to stdout; and --fit
#                          $T/s9.sl --trailer FITINPUT refused with exit 2
#   done_testing           prints the plan and sets the exit status
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${SLUICE_BUILD:-$TOP/build}
PATH=$B/bin:$PATH
export LC_ALL=C
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
_n=0
_fail=0

pass() { _n=$((_n + 1)); echo "ok $_n - $1"; }
fail() { _n=$((_n + 1)); _fail=$((_fail + 1)); echo "not ok $_n - $1"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}

is() {
	if [ "$2" = "$3" ]; then pass "$1"; else
		fail "$1"
		diag "got:" "$2" "want:" "$3"
	fi
}

is_file() {
	if cmp -s "$2" "$3"; then pass "$1"; else
		fail "$1"
		diag "$(diff "$3" "$2" | head -n 20)"
	fi
}

ok_rc() {
	if [ "$rc" = "$2" ]; then pass "$1"; else
		fail "$1"
		diag "exit status $rc, want $2; stderr:" "$(head -c 600 "$T/err")"
	fi
}

like() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then pass "$1"; else
		fail "$1"
		diag "got:" "$2" "want match for: $3"
	fi
}

trail() {
	/usr/bin/python3 -c 'import msgpack,sys
objs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
t = objs[-1]
print(isinstance(t, dict) and t["fields"] == objs[0]["fields"], sum(isinstance(o, dict) for o in objs), [e.get("counts") for e in t["lineage"]])' "$1"
}

trailer_refusals() {
	head -c -3 "$T/dup.sl" > "$T/trunc.sl"
	run "$1" --apply "$2" --trailer -o "$T/none.sl" "$T/trunc.sl"
	ok_rc "trailer: a truncated input: exit 1" 1
	if [ -e "$T/none.sl" ]; then fail "a truncated input: no output, no trailer"; else pass "a truncated input: no output, no trailer"; fi
	run "$1" --apply "$2" --trailer "$T/trunc.sl"
	is "a truncated input to stdout: nothing written" "$(wc -c < "$T/out")" "0"
	run "$1" --fit "$T/s9.sl" --trailer "$3"
	ok_rc "--trailer without --apply: exit 2" 2
}

done_testing() {
	echo "1..$_n"
	[ "$_fail" -eq 0 ]
}

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
#   nheaders FILE          the number of headers in a stream
#   lineage FILE           the first header's lineage, "program:counts" a line
#   dedup_counts NAME OUT TRAILED
#                          passes when OUT's lineage has the counts of the
#                          sluice-dedup --trailer output TRAILED it was made from
#   fit_lineage STAGE ARGS...
#                          STAGE --fit $T/fs.sl ARGS on $T/dup.sl after
#                          sluice-dedup --trailer: the output's lineage and the
#                          state's keep dedup's counts (its trailer); with two
#                          such inputs, the first one's; a stream of two
#                          streams (cat) takes none
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

# nheaders FILE: how many headers the stream has
nheaders() {
	/usr/bin/python3 -c 'import msgpack,sys
print(sum(isinstance(o, dict) for o in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)))' "$1"
}

# lineage FILE: the first header's lineage entries as "program:counts",
# one per line
lineage() {
	/usr/bin/python3 -c 'import msgpack,sys
h = next(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
for e in h["lineage"]:
    print("%s:%s" % (e.get("program"), e.get("counts")))' "$1"
}

dedup_counts() {
	_dd=$(/usr/bin/python3 -c 'import msgpack,sys
t = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))[-1]
print(t["lineage"][-1]["counts"])' "$3")
	is "$1" "$(lineage "$2" | grep '^sluice-dedup:')" "sluice-dedup:$_dd"
}

fit_lineage() {
	_st=$1
	shift
	sluice-dedup --trailer < "$T/dup.sl" 2>/dev/null > "$T/dd.sl"
	run "$_st" --fit "$T/fs.sl" "$@" "$T/dd.sl"
	ok_rc "$_st --fit after dedup --trailer: exit 0" 0
	cp "$T/out" "$T/fo.sl"
	dedup_counts "$_st --fit: the output's lineage has dedup's counts from its trailer" \
		"$T/fo.sl" "$T/dd.sl"
	is "$_st --fit: the state's lineage is the input's, dedup's counts and all" \
		"$(lineage "$T/fs.sl" | sed '$d')" "$(lineage "$T/fo.sl" | sed '$d')"
	is "$_st --fit: the state's own entry last" "$(lineage "$T/fs.sl" | sed -n '$p')" "$_st:None"
	# the same pipeline on other records: the same lineage but for the
	# counts; only the first input's own trailer is taken
	/usr/bin/python3 -c 'import msgpack,sys
o = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
open(sys.argv[2], "wb").write(msgpack.packb(o[0]) + msgpack.packb(o[1]))' "$T/dup.sl" "$T/one.sl"
	sluice-dedup --trailer < "$T/one.sl" 2>/dev/null > "$T/dd2.sl"
	"$_st" --fit "$T/fs2.sl" "$@" "$T/dd.sl" "$T/dd2.sl" > /dev/null 2>&1
	dedup_counts "$_st --fit on two inputs: the first one's trailer counts" "$T/fs2.sl" "$T/dd.sl"
	"$_st" --fit "$T/fs3.sl" "$@" "$T/dd2.sl" "$T/dd.sl" > /dev/null 2>&1
	dedup_counts "$_st --fit, the inputs the other way: the other's" "$T/fs3.sl" "$T/dd2.sl"
	"$_st" --fit "$T/fs5.sl" "$@" "$T/one.sl" "$T/dd.sl" > /dev/null 2>&1
	is "$_st --fit: a later input's stages are not claimed for the first" \
		"$(lineage "$T/fs5.sl" | grep -c '^sluice-dedup:')" "0"
	cat "$T/dd.sl" "$T/dd.sl" | "$_st" --fit "$T/fs4.sl" "$@" > /dev/null 2>&1
	is "$_st --fit on a stream of two streams: no trailer taken" \
		"$(lineage "$T/fs4.sl" | grep '^sluice-dedup:')" "sluice-dedup:None"
}

done_testing() {
	echo "1..$_n"
	[ "$_fail" -eq 0 ]
}

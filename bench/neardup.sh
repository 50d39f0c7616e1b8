#!/bin/bash
# bench/neardup.sh - near-duplicate removal (MinHash + LSH, verified by exact
# Jaccard) on a generated corpus with planted near-copies, as tests/dedup.t
# builds it but about 60 MB: throughput in MB/s of text, and precision and
# recall against the planted truth (issue 3's near-dup benchmark).
#
#   bench/neardup.sh      (REPS=3 runs, median; WORK=/tmp/sluice-bench;
#                          DOCS=60000 random documents, DUPS=15000 copies)
#
# Each planted copy has one word changed, deleted or inserted (or none: an
# exact copy) and always comes after its original; a copy of a copy is
# never made.  Truth: every planted copy is a duplicate, nothing else is.
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
BIN=${SLUICE_BIN:-$TOP/build/bin}
W=${WORK:-/tmp/sluice-bench}
REPS=${REPS:-3}
DOCS=${DOCS:-60000}
DUPS=${DUPS:-15000}
mkdir -p "$W"
C=$W/neardup_${DOCS}_$DUPS.sl
if [ ! -f "$C" ]; then
	/usr/bin/python3 - "$C" "$C.truth" "$DOCS" "$DUPS" <<'PYEOF'
import msgpack, random, sys
out_path, truth_path, ndocs, ndups = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(11)
letters = "abcdefghijklmnopqrstuvwxyz"
vocab = ["".join(rnd.choice(letters) for _ in range(rnd.randint(3, 9))) for _ in range(20000)]
docs = [[rnd.choice(vocab) for _ in range(rnd.randint(80, 150))] for _ in range(ndocs)]
recs = [("base", i, d) for i, d in enumerate(docs)]
for k in range(ndups):
    i = rnd.randrange(ndocs)
    d = list(docs[i])
    op, j = k % 4, rnd.randrange(len(d))
    if op == 0: d[j] = rnd.choice(vocab)
    elif op == 1: del d[j]
    elif op == 2: d.insert(j, rnd.choice(vocab))
    recs.append(("dup", i, d))
rnd.shuffle(recs)
seen, out = set(), []
for r in recs:  # an original always comes before its copies
    if r[0] == "dup" and r[1] not in seen:
        out.append(("base", r[1], docs[r[1]])); seen.add(r[1])
    if r[0] == "base":
        if r[1] in seen: continue
        seen.add(r[1])
    out.append(r)
truth, nbytes = [], 0
with open(out_path, "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["n", "int"], ["text", "str"]], "lineage": []}))
    for n, r in enumerate(out, 1):
        t = " ".join(r[2])
        nbytes += len(t)
        f.write(msgpack.packb([n, t]))
        if r[0] == "dup":
            truth.append(n)
with open(truth_path, "w") as f:
    f.write(" ".join(map(str, truth)) + "\n")
print("corpus: %d records, %d planted copies, %d bytes of text" % (len(out), len(truth), nbytes), file=sys.stderr)
PYEOF
fi
TEXT_BYTES=$(/usr/bin/python3 -c '
import msgpack, sys
print(sum(len(r[1].encode()) for r in list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))[1:]))' "$C")

echo "# $(date -u +%FT%TZ) $(nproc) cores; $C ($(stat -c %s "$C") bytes, $TEXT_BYTES bytes of text); median of $REPS"
echo "# load before: $(uptime | sed 's/.*load/load/')"
walls=()
for r in $(seq "$REPS"); do
	cat "$C" > /dev/null
	t0=$(date +%s.%N)
	/usr/bin/time -f '%M' -o "$W/time.neardup" "$BIN/sluice-dedup" --near --report "$W/neardup_report.sl" \
		"$C" > "$W/neardup_out.sl" 2> "$W/err.neardup" || echo "sluice-dedup failed: $(tail -n 3 "$W/err.neardup")" >&2
	t1=$(date +%s.%N)
	walls+=("$(echo "$t1 - $t0" | bc -l)")
done
echo "# load after: $(uptime | sed 's/.*load/load/')"
wall=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (REPS + 1) / 2 ))p")
tail -n 1 "$W/err.neardup"
printf 'walls: %s\n' "$(printf '%.2f ' "${walls[@]}")"
printf 'sluice-dedup --near: %.2f s median, %.1f MB/s of text, %.0f MiB peak RSS\n' "$wall" \
	"$(echo "$TEXT_BYTES / $wall / 1000000" | bc -l)" "$(echo "$(tail -n 1 "$W/time.neardup") / 1024" | bc -l)"
/usr/bin/python3 - "$W/neardup_report.sl" "$C.truth" <<'PYEOF'
import msgpack, sys
rep = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))[1:]
removed = set(r[0] for r in rep)
truth = set(map(int, open(sys.argv[2]).read().split()))
tp = len(removed & truth)
print("removed %d, planted %d, true positives %d: precision %.4f, recall %.4f (goal >= 0.95 each); lowest similarity removed %.3f"
      % (len(removed), len(truth), tp, tp / len(removed) if removed else 0, tp / len(truth), min(r[2] for r in rep) if rep else 1))
PYEOF

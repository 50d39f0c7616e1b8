#!/bin/bash
# bench/dedup.sh - exact dedup of text lines, side by side in one run with
# LC_ALL=C sort -u and awk '!seen[$0]++' (issue 3's benchmark).  The
# stream holds the text only (ingest --no-provenance); a second row dedups
# the stream with source and line numbers, on the text as key.  The whole
# text -> stream -> dedup -> text pipeline is timed too.  Near duplicates:
# bench/neardup.sh.
#
#   bench/dedup.sh            (REPS=3 runs each, median; WORK=/tmp/sluice-bench)
#
# Needs the anchor generator ../shared/bench/gen_data.py (or SHARED_BENCH).
# The 10M-line input (509 MB) is generated once into $WORK.
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
BIN=${SLUICE_BIN:-$TOP/build/bin}
SB=${SHARED_BENCH:-$TOP/../shared/bench}
W=${WORK:-/tmp/sluice-bench}
REPS=${REPS:-3}
mkdir -p "$W"
LINES=$W/lines_10m.txt
[ -f "$LINES" ] || /usr/bin/python3 "$SB/gen_data.py" lines "$LINES" >&2
[ -f "$W/lines_text.sl" ] ||
	"$BIN/sluice-ingest" --format lines --no-provenance -o "$W/lines_text.sl" "$LINES"
[ -f "$W/lines.sl" ] || "$BIN/sluice-ingest" --format lines -o "$W/lines.sl" "$LINES"
BYTES=$(stat -c %s "$LINES")

measure() {
	local label=$1; shift
	local walls=() rss=0 r m
	for r in $(seq "$REPS"); do
		cat "$LINES" "$W/lines_text.sl" "$W/lines.sl" > /dev/null
		local t0 t1
		t0=$(date +%s.%N)
		/usr/bin/time -f '%M' -o "$W/time.$label" bash -c "$*" > /dev/null 2> "$W/err.$label" ||
			echo "$label failed: $(tail -n 3 "$W/err.$label")" >&2
		t1=$(date +%s.%N)
		walls+=("$(echo "$t1 - $t0" | bc -l)")
		m=$(tail -n 1 "$W/time.$label")
		[ "$m" -gt "$rss" ] && rss=$m
	done
	echo "$label $(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (REPS + 1) / 2 ))p") $rss"
}

{
	echo "# $(date -u +%FT%TZ) $(nproc) cores; $LINES ($BYTES bytes, 10M lines); median of $REPS"
	echo "# load before: $(uptime | sed 's/.*load/load/')"
	for r in $(seq "$REPS"); do
		REPS=1 measure sort_u_C "LC_ALL=C sort -u '$LINES' > '$W/out_sort.txt'"
		REPS=1 measure sluice_dedup "'$BIN/sluice-dedup' '$W/lines_text.sl' > '$W/out_dedup.sl'"
		REPS=1 measure sluice_dedup_prov "'$BIN/sluice-dedup' --key text '$W/lines.sl' > '$W/out_dedup_prov.sl'"
		REPS=1 measure sluice_text_pipeline "'$BIN/sluice-ingest' --format lines --no-provenance '$LINES' | '$BIN/sluice-dedup' | '$BIN/sluice-cat' --tsv --no-header > '$W/out_pipe.txt'"
	done
	[ -n "${NO_AWK:-}" ] || measure awk_seen "awk '!seen[\$0]++' '$LINES' > '$W/out_awk.txt'"
	echo "# load after: $(uptime | sed 's/.*load/load/')"
} | tee "$W/dedup.raw"
LC_ALL=C sort "$W/out_pipe.txt" | cmp -s - "$W/out_sort.txt" &&
	echo "pipeline output, sorted == sort -u output" || echo "WARNING: pipeline output differs from sort -u's"
if [ -z "${NO_AWK:-}" ]; then
	cmp -s "$W/out_awk.txt" "$W/out_pipe.txt" && echo "pipeline output == awk output (same lines, same order)" \
		|| echo "WARNING: pipeline output differs from awk's"
fi
# rows come interleaved (sort, dedup, dedup_prov, pipeline, sort, ...):
# the median of each label's walls, the largest RSS
awk '/^#/ { print; next }
{ n[$1]++; w[$1, n[$1]] = $2; if ($3 > rss[$1]) rss[$1] = $3 }
END {
  for (l in n) {
    k = n[l]; for (i = 1; i <= k; i++) a[i] = w[l, i]
    for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    wall[l] = a[int((k + 1) / 2)]; lo = a[1]; hi = a[k]
    printf "%-22s %8.2f s (%.2f-%.2f, %d runs) %8.0f MiB peak RSS\n", l, wall[l], lo, hi, k, rss[l] / 1024
  }
  printf "\nsluice-dedup vs LC_ALL=C sort -u: %.2fx faster (goal >= 3), %.2fx the memory\n", wall["sort_u_C"] / wall["sluice_dedup"], rss["sluice_dedup"] / rss["sort_u_C"]
  printf "sluice-dedup with source and line fields (--key text) vs sort -u: %.2fx faster\n", wall["sort_u_C"] / wall["sluice_dedup_prov"]
  if (wall["awk_seen"]) printf "sluice-dedup vs awk: %.2fx faster\n", wall["awk_seen"] / wall["sluice_dedup"]
  printf "text -> stream -> dedup -> text vs sort -u: %.2fx faster\n", wall["sort_u_C"] / wall["sluice_text_pipeline"]
}' "$W/dedup.raw" | tee "$W/dedup.txt"

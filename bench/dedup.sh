#!/bin/bash
# bench/dedup.sh - exact dedup of text lines, side by side in one run with
# LC_ALL=C sort -u and awk '!seen[$0]++' (issue 3's benchmark), plus the
# near-duplicate throughput on a planted corpus.
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
[ -f "$W/lines.sl" ] || "$BIN/sluice-ingest" --format lines -o "$W/lines.sl" "$LINES"
BYTES=$(stat -c %s "$LINES")

measure() {
	local label=$1; shift
	local walls=() rss=0 r m
	for r in $(seq "$REPS"); do
		cat "$LINES" "$W/lines.sl" > /dev/null
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
	measure sort_u_C "LC_ALL=C sort -u '$LINES' > '$W/out_sort.txt'"
	measure awk_seen "awk '!seen[\$0]++' '$LINES' > '$W/out_awk.txt'"
	measure sluice_dedup "'$BIN/sluice-dedup' --key text '$W/lines.sl' > '$W/out_dedup.sl'"
	measure sluice_text_pipeline "'$BIN/sluice-ingest' --format lines '$LINES' | '$BIN/sluice-dedup' --key text | '$BIN/sluice-cat' --tsv --no-header --fields text > '$W/out_pipe.txt'"
} | tee "$W/dedup.raw"
cmp -s "$W/out_awk.txt" "$W/out_pipe.txt" && echo "pipeline output == awk output (same lines, same order)" \
	|| echo "WARNING: pipeline output differs from awk's"
awk '/^#/ { print; next }
{ wall[$1] = $2; rss[$1] = $3; printf "%-22s %8.2f s %8.0f MiB peak RSS\n", $1, $2, $3 / 1024 }
END {
  printf "\nsluice-dedup vs LC_ALL=C sort -u: %.2fx faster (goal >= 3), %.2fx the memory\n", wall["sort_u_C"] / wall["sluice_dedup"], rss["sluice_dedup"] / rss["sort_u_C"]
  printf "sluice-dedup vs awk: %.2fx faster\n", wall["awk_seen"] / wall["sluice_dedup"]
  printf "text -> stream -> dedup -> text vs sort -u: %.2fx faster\n", wall["sort_u_C"] / wall["sluice_text_pipeline"]
}' "$W/dedup.raw" | tee "$W/dedup.txt"

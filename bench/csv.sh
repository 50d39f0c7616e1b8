#!/bin/bash
# bench/csv.sh - CSV -> stream -> JSON Lines, side by side with its anchors
# in one run: Miller, pandas and Python's csv reader (issue 2's benchmark).
#
#   bench/csv.sh [ROWS]      (default 1000000; REPS=3 runs each, median)
#
# Needs: miller, python3-pandas, time (Debian), and the anchor scripts in
# ../shared/bench (gen_data.py, data_tasks.py) or SHARED_BENCH=dir.
# Prints one table: wall seconds (median), records/s, MB/s, peak RSS, and
# the ratios the goals are stated in.  Work files go to $WORK (default
# /tmp/sluice-bench) and are left there.
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
BIN=${SLUICE_BIN:-$TOP/build/bin}
SB=${SHARED_BENCH:-$TOP/../shared/bench}
W=${WORK:-/tmp/sluice-bench}
REPS=${REPS:-3}
ROWS=${1:-1000000}
PY=/usr/bin/python3
mkdir -p "$W"
[ -x "$BIN/sluice-ingest" ] || { echo "build first: make" >&2; exit 1; }
[ -f "$SB/gen_data.py" ] || { echo "no anchor scripts in $SB (set SHARED_BENCH)" >&2; exit 1; }

CSV=$W/mixed_$ROWS.csv
[ -f "$CSV" ] || $PY "$SB/gen_data.py" mixed "$CSV" --rows "$ROWS" >&2
CSV10=$W/mixed_${ROWS}_x10.csv
if [ ! -f "$CSV10" ]; then
	head -n 1 "$CSV" > "$CSV10"
	for i in 1 2 3 4 5 6 7 8 9 10; do tail -n +2 "$CSV" >> "$CSV10"; done
fi
BYTES=$(stat -c %s "$CSV")

# measure LABEL CMD... : prints "LABEL median_wall max_rss_kib"
measure() {
	local label=$1; shift
	local walls=() rss=0 r
	for r in $(seq "$REPS"); do
		cat "$CSV" > /dev/null
		local t0 t1
		t0=$(date +%s.%N)
		/usr/bin/time -f '%M' -o "$W/time.$label" bash -c "$*" > /dev/null 2> "$W/err.$label" ||
			{ echo "$label failed: $(tail -n 3 "$W/err.$label")" >&2; }
		t1=$(date +%s.%N)
		walls+=("$(echo "$t1 - $t0" | bc -l)")
		local m; m=$(tail -n 1 "$W/time.$label")
		[ "$m" -gt "$rss" ] && rss=$m
	done
	local med; med=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (REPS + 1) / 2 ))p")
	echo "$label $med $rss"
}

{
	echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
	echo "# input: $CSV ($BYTES bytes, $ROWS rows); median of $REPS runs"
	measure sluice_ingest "'$BIN/sluice-ingest' '$CSV' > '$W/mixed.sl'"
	measure sluice_csv2jsonl "'$BIN/sluice-ingest' '$CSV' | '$BIN/sluice-cat' --json > '$W/out_sluice.jsonl'"
	measure sluice_cat_json "'$BIN/sluice-cat' --json '$W/mixed.sl' > /dev/null"
	measure mlr_csv2jsonl "mlr --icsv --ojsonl cat '$CSV' > '$W/out_mlr.jsonl'"
	measure pandas_csv2jsonl "$PY '$SB/data_tasks.py' pandas_jsonl '$CSV' '$W/out_pandas.jsonl'"
	measure pycsv_reader "$PY '$SB/data_tasks.py' csv_read '$CSV'"
	REPS=1 measure sluice_ingest_x10 "'$BIN/sluice-ingest' '$CSV10' > /dev/null"
} | tee "$W/csv.raw"

awk -v bytes="$BYTES" -v rows="$ROWS" '
/^#/ { print; next }
{ wall[$1] = $2; rss[$1] = $3; k = $1 ~ /_x10$/ ? 10 : 1
  printf "%-20s %8.3f s %12.0f rec/s %8.1f MB/s %8.1f MiB peak RSS\n", $1, $2, k * rows / $2, k * bytes / $2 / 1e6, $3 / 1024 }
END {
  printf "\nend to end (ingest | cat --json) vs Miller: %.2fx faster (goal >= 5)\n", wall["mlr_csv2jsonl"] / wall["sluice_csv2jsonl"]
  printf "end to end vs pandas read_csv+to_json:     %.2fx faster\n", wall["pandas_csv2jsonl"] / wall["sluice_csv2jsonl"]
  printf "ingest alone vs Python csv reader:         %.2fx faster (goal >= 2)\n", wall["pycsv_reader"] / wall["sluice_ingest"]
  printf "peak RSS of ingest, 1x vs 10x input:       %.1f MiB vs %.1f MiB\n", rss["sluice_ingest"] / 1024, rss["sluice_ingest_x10"] / 1024
}' "$W/csv.raw" | tee "$W/csv.txt"

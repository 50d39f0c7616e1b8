#!/bin/bash
# bench/numeric.sh - numeric preparation of a 1M x 20 CSV with 5% missing:
# mean imputation -> IQR clipping -> z-scores, CSV file to CSV file, beside
# pandas + scikit-learn doing the same (issue 3's benchmark), in one run.
#
#   bench/numeric.sh         (REPS=3 runs each, interleaved, median;
#                             WORK=/tmp/sluice-bench)
#
# Needs the anchor scripts ../shared/bench/gen_data.py and data_tasks.py
# (or SHARED_BENCH), python3-pandas and python3-sklearn.
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
BIN=${SLUICE_BIN:-$TOP/build/bin}
SB=${SHARED_BENCH:-$TOP/../shared/bench}
W=${WORK:-/tmp/sluice-bench}
REPS=${REPS:-3}
mkdir -p "$W"
N=$W/numeric_1m_20.csv
[ -f "$N" ] || /usr/bin/python3 "$SB/gen_data.py" numeric "$N" >&2
BYTES=$(stat -c %s "$N")

measure() {
	local label=$1; shift
	local walls=() rss=0 r m
	for r in $(seq "$REPS"); do
		cat "$N" > /dev/null
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

S="'$BIN/sluice'"
{
	echo "# $(date -u +%FT%TZ) $(nproc) cores; $N ($BYTES bytes); median of $REPS, runs interleaved"
	echo "# load before: $(uptime | sed 's/.*load/load/')"
	for r in $(seq "$REPS"); do
		REPS=1 measure pandas_sklearn "/usr/bin/python3 '$SB/data_tasks.py' numeric '$N' '$W/out_pandas.csv'"
		REPS=1 measure sluice_pipeline "$S ingest '$N' | $S impute --method mean | $S outliers --method iqr --action clip | $S normalize | $S cat --csv --digits 6 > '$W/out_sluice.csv'"
	done
	echo "# load after: $(uptime | sed 's/.*load/load/')"
} | tee "$W/numeric.raw"
/usr/bin/python3 - "$W/out_pandas.csv" "$W/out_sluice.csv" <<'PYEOF' | tee "$W/numeric.check"
import sys
import numpy as np
a = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
b = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)
if a.shape != b.shape:
    print("shapes differ:", a.shape, b.shape)
else:
    # pandas writes %.6f; compare to that precision
    print("largest difference from pandas+sklearn's output: %.2g (its values have 6 decimals)" % np.max(np.abs(a - b)))
PYEOF
# the median of each label's walls, the largest RSS
awk '/^#/ { print; next }
{ n[$1]++; w[$1, n[$1]] = $2; if ($3 > r[$1]) r[$1] = $3 }
END {
  for (l in n) {
    k = n[l]; for (i = 1; i <= k; i++) a[i] = w[l, i]
    for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
    t[l] = a[int((k + 1) / 2)]
    printf "%-18s %8.2f s (%.2f-%.2f, %d runs) %8.0f MiB peak RSS\n", l, t[l], a[1], a[k], k, r[l] / 1024
  }
  printf "\nsluice pipeline vs pandas + scikit-learn: %.1fx faster (goal >= 5)\n", t["pandas_sklearn"] / t["sluice_pipeline"]
}' "$W/numeric.raw" | tee "$W/numeric.txt"

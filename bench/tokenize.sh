#!/bin/bash
# bench/tokenize.sh - BPE learning and encoding beside sentencepiece, in one
# run, on the same corpus and vocabulary size (issue 5's benchmark).
#
#   bench/tokenize.sh        (REPS=3 runs each, median; WORK=/tmp/sluice-bench)
#
# Encoding is timed on one thread (the goal) and on all the cores.
#
# Corpus: tinyshakespeare + Debian's fortunes, made by the anchor generator
# ../shared/bench/gen_data.py corpus (or SHARED_BENCH); one record per line.
# Needs: sentencepiece, python3-msgpack (Debian).
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
BIN=${SLUICE_BIN:-$TOP/build/bin}
SB=${SHARED_BENCH:-$TOP/../shared/bench}
W=${WORK:-/tmp/sluice-bench}
REPS=${REPS:-3}
V=${VOCAB:-4096}
mkdir -p "$W"
C=$W/spm_corpus.txt
[ -f "$C" ] || /usr/bin/python3 "$SB/gen_data.py" corpus "$C" >&2
[ -f "$W/corpus10.txt" ] || for i in 1 2 3 4 5 6 7 8 9 10; do cat "$C"; done > "$W/corpus10.txt"
for f in spm_corpus corpus10; do
	[ -f "$W/$f.sl" ] || "$BIN/sluice-ingest" --format lines -o "$W/$f.sl" "$W/$f.txt"
done
BYTES=$(stat -c %s "$C")

measure() {
	local label=$1; shift
	local walls=() r
	for r in $(seq "$REPS"); do
		local t0 t1
		t0=$(date +%s.%N)
		bash -c "$*" > /dev/null 2> "$W/err.$label" || echo "$label failed: $(tail -n 3 "$W/err.$label")" >&2
		t1=$(date +%s.%N)
		walls+=("$(echo "$t1 - $t0" | bc -l)")
	done
	echo "$label $(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (REPS + 1) / 2 ))p")"
}

{
	echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); corpus $C ($BYTES bytes); vocabulary $V; median of $REPS"
	measure spm_train "spm_train --input='$C' --model_type=bpe --vocab_size=$V --input_sentence_size=0 --num_threads=1 --model_prefix='$W/spm'"
	measure sluice_fit "'$BIN/sluice-tokenize' --fit-only '$W/vocab.sl' --vocab-size $V '$W/spm_corpus.sl'"
	measure spm_encode_x10 "spm_encode --model='$W/spm.model' --output_format=id < '$W/corpus10.txt' > '$W/spm.ids'"
	measure sluice_encode_x10 "'$BIN/sluice-tokenize' --threads 1 --apply '$W/vocab.sl' -o '$W/enc.sl' '$W/corpus10.sl'"
	measure sluice_encode_x10_threads "'$BIN/sluice-tokenize' --threads $(nproc) --apply '$W/vocab.sl' -o '$W/enc.sl' '$W/corpus10.sl'"
	measure sluice_ingest_x10 "'$BIN/sluice-ingest' --format lines '$W/corpus10.txt' > /dev/null"
} | tee "$W/tokenize.raw"
awk -v bytes="$BYTES" -v nproc="$(nproc)" '/^#/ { print; next }
{ t[$1] = $2; printf "%-20s %8.3f s\n", $1, $2 }
END {
  enc = t["sluice_encode_x10"]
  printf "\nlearning: sluice %.2fx the time of spm_train (goal <= 0.5)\n", t["sluice_fit"] / t["spm_train"]
  printf "encoding (one thread): sluice %.1f MB/s, spm_encode %.1f MB/s: %.1fx (goal >= 10)\n", \
    10 * bytes / enc / 1e6, 10 * bytes / t["spm_encode_x10"] / 1e6, t["spm_encode_x10"] / enc
  printf "encoding on %d threads: %.1f MB/s, %.2fx one thread\n", nproc, 10 * bytes / t["sluice_encode_x10_threads"] / 1e6, enc / t["sluice_encode_x10_threads"]
  printf "(sluice encode time includes reading and writing the streams; ingest of the text alone takes %.3f s)\n", t["sluice_ingest_x10"]
}' "$W/tokenize.raw" | tee "$W/tokenize.txt"

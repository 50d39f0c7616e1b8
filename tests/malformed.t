#!/bin/sh
# Every program that reads a stream is run on every malformed stream in
# tests/malformed/: each must exit 1 (not crash, not succeed) with a message
# that starts with the program's name and names the input.
. "$(dirname "$0")/lib.sh"

# sluice-predict and sluice-evaluate apply a model: a tiny one, trained here.
printf 'x,y\n1,0\n2,1\n3,0\n4,1\n' | sluice-ingest --format csv 2>/dev/null |
	sluice-train --target y --epochs 1 -o "$T/model.sl" 2>/dev/null
# sluice-generate reads prompts with a language model: a tiny untrained one.
printf 'ab\nba\n' | sluice-ingest --format lines 2>/dev/null |
	sluice-tokenize --char --fit "$T/lmvocab.sl" -o "$T/lmids.sl" 2>/dev/null
sluice-train --model gpt --vocab "$T/lmvocab.sl" --layers 1 --heads 1 --embd 4 \
	--context 2 --steps 1 --batch 1 -o "$T/lm.sl" "$T/lmids.sl" 2>/dev/null

for prog in "$B"/bin/sluice-*; do
	name=$(basename "$prog")
	# Programs that need options to read a stream at all get them here.
	args=
	case $name in
	sluice-ingest) continue ;; # reads text, see ingest.t
	sluice-tokenize) args="--fit-only $T/vocab.sl" ;;
	sluice-train) args="--target y -o $T/out.sl" ;;
	sluice-predict | sluice-evaluate) args="$T/model.sl" ;;
	sluice-label) args="--review 1" ;;
	sluice-generate) args="--max-tokens 1 $T/lm.sl" ;;
	sluice-sweep) continue ;; # its trials' sluice-train reads the data, see sweep.t
	esac
	for f in "$TOP"/tests/malformed/*.bin; do
		base=$(basename "$f")
		run "$prog" $args "$f"
		if [ "$rc" = 1 ] && grep -q "^$name: .*$base" "$T/err"; then
			pass "$name rejects $base"
		else
			fail "$name rejects $base"
			diag "exit status $rc; stderr: $(head -c 300 "$T/err")"
		fi
		run sh -c "\"$prog\" $args < \"$f\""
		if [ "$rc" = 1 ] && grep -q "^$name: (stdin)" "$T/err"; then
			pass "$name rejects $base on stdin"
		else
			fail "$name rejects $base on stdin"
			diag "exit status $rc; stderr: $(head -c 300 "$T/err")"
		fi
	done
done
done_testing

#!/bin/sh
# sluice-sweep: a grid on a small XOR set where the best trial is known,
# the best model equal to the same sluice-train run by hand and to the
# validation accuracy computed here from its predictions, determinism
# (again, and with trials side by side), random mode (the same draws for a
# seed, trial k the same whatever N is, values inside their ranges), bad
# specifications, and failing trials (a usage error, a killed trainer, a
# model without metrics, every trial failing, a signal).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

# XOR of two coordinates: a hidden layer of 16 learns it, one unit cannot,
# and a learning rate of 1e-5 barely moves in 20 epochs
cat > "$T/mk.py" <<'PYEOF'
import msgpack, random, sys
rnd = random.Random(int(sys.argv[2]))
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["a", "float"], ["b", "float"], ["y", "int"]], "lineage": []}))
    n = 0
    while n < int(sys.argv[3]):
        a, b = rnd.uniform(-1, 1), rnd.uniform(-1, 1)
        if abs(a) < 0.15 or abs(b) < 0.15:
            continue
        f.write(msgpack.packb([a, b, int((a > 0) != (b > 0))]))
        n += 1
PYEOF
$PY "$T/mk.py" "$T/train.sl" 1 400
$PY "$T/mk.py" "$T/val.sl" 2 200
TRAIN="--target y --model mlp --epochs 20 --batch 16 --seed 1 $T/train.sl"
TRAIN_NB="--target y --model mlp --epochs 20 --seed 1 $T/train.sl"

# the records as JSON Lines, without the header
recs() { sluice-cat --json --no-header "$1"; }

# --- a grid where the best trial is known
run sluice-sweep --grid hidden=1,16 --grid lr=1e-5,0.03 --val "$T/val.sl" \
	--best "$T/best.sl" --dir "$T/d" -o "$T/grid.sl" --threads 1 -- $TRAIN
ok_rc "grid: exit 0" 0
is "grid: trials, values, status in trial order (last grid fastest)" \
	"$(recs "$T/grid.sl" | $PY -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l); print(r["trial"], r["hidden"], r["lr"], r["status"], r["metric"], r["error"])')" \
	"1 1 1e-05 ok accuracy None
2 1 0.03 ok accuracy None
3 16 1e-05 ok accuracy None
4 16 0.03 ok accuracy None"
like "grid: hidden is int, lr float" "$(sluice-cat --schema --json "$T/grid.sl")" \
	'"hidden", *"int".*"lr", *"float"'
best=$(recs "$T/grid.sl" | $PY -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin]
b = max(rs, key=lambda r: (r["val_metric"], -r["trial"]))
print(b["trial"], b["val_metric"] > 0.9, all(r["val_metric"] < 0.85 for r in rs if r is not b))')
is "grid: trial 4 (16 units, lr 0.03) is best, clearly" "$best" "4 True True"
like "grid: stderr names the best" "$(tail -n 1 "$T/err")" \
	'4 trials, 0 failed; best: trial 4 \(hidden=16 lr=0.03\), val accuracy (0\.9|1\.0)'
is_file "grid: --best is trial 4's model" "$T/best.sl" "$T/d/trial-4.sl"
is "grid: --dir holds every model and log" "$(cd "$T/d" && ls | tr '\n' ' ')" \
	"trial-1.log trial-1.sl trial-2.log trial-2.sl trial-3.log trial-3.sl trial-4.log trial-4.sl "
is "grid: the record names the model" \
	"$(recs "$T/grid.sl" | $PY -c 'import json,sys; print([json.loads(l)["model"] for l in sys.stdin][3])')" \
	"$T/d/trial-4.sl"
sluice-train $TRAIN --hidden 16 --lr 0.03 --val "$T/val.sl" --threads 1 > "$T/hand.sl" 2>/dev/null
is_file "grid: the best model equals sluice-train run by hand" "$T/best.sl" "$T/hand.sl"
# val_metric against the accuracy of the best model's predictions
acc=$(sluice-predict --no-probs "$T/best.sl" "$T/val.sl" | recs - | $PY -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin]
print("%.12f" % (sum(r["y"] == r["pred"] for r in rs) / len(rs)))')
got=$(recs "$T/grid.sl" | $PY -c 'import json,sys; print("%.12f" % [json.loads(l)["val_metric"] for l in sys.stdin][3])')
is "grid: val_metric is the best model's accuracy on --val" "$got" "$acc"

# --- determinism: the same command again, without --dir, and trials side by side
cp "$T/grid.sl" "$T/grid1.sl"
cp "$T/best.sl" "$T/best1.sl"
run sluice-sweep --grid hidden=1,16 --grid lr=1e-5,0.03 --val "$T/val.sl" \
	--best "$T/best.sl" --dir "$T/d" -o "$T/grid.sl" --threads 1 -- $TRAIN
is_file "again: the same trial stream" "$T/grid.sl" "$T/grid1.sl"
is_file "again: the same best model" "$T/best.sl" "$T/best1.sl"
mkdir "$T/tmp"
run env TMPDIR="$T/tmp" sluice-sweep -j 2 --threads 2 --grid hidden=1,16 --grid lr=1e-5,0.03 \
	--val "$T/val.sl" --best "$T/best3.sl" -o "$T/grid3.sl" -- $TRAIN
ok_rc "jobs 2: exit 0" 0
is "jobs 2: the same records (models not kept: nil)" \
	"$(recs "$T/grid3.sl")" "$(recs "$T/grid.sl" | sed 's|"model":"[^"]*"|"model":null|')"
is_file "jobs 2: the same best model (1 thread a trial)" "$T/best3.sl" "$T/best.sl"
like "jobs 2: the header says 1 thread a trial" "$(sluice-cat --schema --json "$T/grid3.sl")" \
	'"threads_per_trial": *1'
is "jobs 2: the temporary directory is gone" "$(ls -A "$T/tmp")" ""

# --- a value holding commas; --metric passed on (a loss is minimised)
run sluice-sweep --grid 'hidden=2;16,8' --metric loss --val "$T/val.sl" -o "$T/semi.sl" \
	--threads 1 -- $TRAIN --lr 0.03
ok_rc "semicolons: exit 0" 0
is "semicolons: two values, str" "$(recs "$T/semi.sl" | $PY -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l); print(r["hidden"], r["metric"], r["val_metric"] == r["val_loss"])')" \
	"2 loss True
16,8 loss True"
like "semicolons: the lower loss is best" "$(tail -n 1 "$T/err")" "best: trial 2 \(hidden=16,8\), val loss"

# --- random mode
RND="--random 6 --seed 5 --param lr=log:1e-4:1e-1 --param hidden=logint:2:64 \
--param dropout=uniform:0:0.5 --param batch=int:8:32 --param activation=choice:relu,tanh"
TRAIN=$TRAIN_NB
run sluice-sweep -n $RND --val "$T/val.sl" --threads 1 -- $TRAIN
ok_rc "random: dry run exits 0" 0
cp "$T/out" "$T/dry1"
run sluice-sweep -n $RND --val "$T/val.sl" --threads 1 -- $TRAIN
is_file "random: the same seed draws the same trials" "$T/out" "$T/dry1"
run sluice-sweep -n $(echo "$RND" | sed 's/--random 6/--random 3/') --val "$T/val.sl" --threads 1 -- $TRAIN
is "random: trial k is the same whatever N is" "$(cat "$T/out")" "$(head -n 3 "$T/dry1")"
run sluice-sweep -n $(echo "$RND" | sed 's/--seed 5/--seed 6/') --val "$T/val.sl" --threads 1 -- $TRAIN
if cmp -s "$T/out" "$T/dry1"; then fail "random: another seed, other trials"; else pass "random: another seed, other trials"; fi
is "random: every value in its range, reals to 4 digits" "$($PY -c '
import math, re, sys
ok = True
for line in open(sys.argv[1]):
    w = line.split()
    v = dict((w[i][2:], w[i + 1]) for i in range(len(w)) if w[i] in ("--lr", "--hidden", "--dropout", "--batch", "--activation"))
    lr, h, d, b = float(v["lr"]), int(v["hidden"]), float(v["dropout"]), int(v["batch"])
    ok &= 1e-4 <= lr <= 1e-1 and 2 <= h <= 64 and 0 <= d <= 0.5 and 8 <= b <= 32
    ok &= v["activation"] in ("relu", "tanh") and len(re.sub("[^0-9]", "", "%s" % v["lr"]).lstrip("0")) <= 4
    ok &= w[-4:-2] == ["--threads", "1"]
print(ok, len(open(sys.argv[1]).readlines()))' "$T/dry1")" "True 6"
like "random: the command line" "$(head -n 1 "$T/dry1")" \
	"^1 sluice-train --target y --model mlp .* --lr [0-9.e-]+ --hidden [0-9]+ --dropout [0-9.e-]+ --batch [0-9]+ --activation (relu|tanh) --val $T/val.sl --threads 1 > DIR/trial-1.sl\$"
run sluice-sweep --random 2 --seed 5 --param lr=log:1e-3:1e-1 --grid hidden=8,16 \
	--val "$T/val.sl" -o "$T/r.sl" --best "$T/rb.sl" --threads 1 -- $TRAIN
ok_rc "random: a run exits 0" 0
cp "$T/r.sl" "$T/r1.sl"
cp "$T/rb.sl" "$T/rb1.sl"
run sluice-sweep --random 2 --seed 5 --param lr=log:1e-3:1e-1 --grid hidden=8,16 \
	--val "$T/val.sl" -o "$T/r.sl" --best "$T/rb.sl" --threads 1 -- $TRAIN
is_file "random: the same records again" "$T/r.sl" "$T/r1.sl"
is_file "random: the same best model again" "$T/rb.sl" "$T/rb1.sl"
TRAIN="--target y --model mlp --epochs 20 --batch 16 --seed 1 $T/train.sl"
like "random: the header says random and the seed" "$(sluice-cat --schema --json "$T/r1.sl")" \
	'"search": *"random".*"seed": *5'

# --- bad specifications: usage errors, exit 2, each naming its option
bad() {
	name=$1 want=$2
	shift 2
	run sluice-sweep "$@"
	if [ "$rc" = 2 ] && grep -Eq -- "$want" "$T/err"; then pass "bad: $name"; else
		fail "bad: $name"
		diag "exit $rc" "$(cat "$T/err")"
	fi
}
V="--val $T/val.sl"
bad "no =" "--grid: NAME=VALUES" --grid lr $V -- $TRAIN
bad "an empty list" "--grid lr=: an empty value" --grid lr= $V -- $TRAIN
bad "an empty value" "an empty value" --grid lr=1,,2 $V -- $TRAIN
bad "a bad name" "NAME=VALUES" --grid 'l r=1' $V -- $TRAIN
bad "a log range from 0" "LOW > 0" --random 2 --param lr=log:0:1 $V -- $TRAIN
bad "one bound" "log:LOW:HIGH" --random 2 --param lr=log:1 $V -- $TRAIN
bad "bounds reversed" "LOW is above HIGH" --random 2 --param lr=uniform:2:1 $V -- $TRAIN
bad "not a number" "not a finite number" --random 2 --param lr=uniform:a:1 $V -- $TRAIN
bad "NaN bound" "not a finite number" --random 2 --param lr=uniform:0:nan $V -- $TRAIN
bad "int range of reals" "whole numbers" --random 2 --param batch=int:1.5:3 $V -- $TRAIN
bad "unknown kind" "log:LOW:HIGH, uniform" --random 2 --param lr=normal:1:2 $V -- $TRAIN
bad "--param without --random" "--param draws values" --param lr=log:1e-3:1 $V -- $TRAIN
bad "--random 0" "--random: a number of trials" --random 0 --param lr=log:1e-3:1 $V -- $TRAIN
bad "a huge grid" "combinations" --grid a=1,2,3,4,5,6,7,8,9,10 --grid b=1,2,3,4,5,6,7,8,9,10 \
	--grid c=1,2,3,4,5,6,7,8,9,10 --grid d=1,2,3,4,5,6,7,8,9,10 \
	--grid e=1,2,3,4,5,6,7,8,9,10 --grid f=1,2,3,4,5,6,7,8,9,10 --grid g=1,2 $V -- $TRAIN
bad "sweeping what the sweep sets" "--val is set by sluice-sweep" --grid val=a,b $V -- $TRAIN
bad "sweeping threads" "--threads is set by sluice-sweep" --grid threads=1,2 $V -- $TRAIN
bad "a name twice" "swept twice" --grid lr=1 --grid lr=2 $V -- $TRAIN
bad "a field name taken" "may not be called 'status'" --grid status=1,2 $V -- $TRAIN
bad "no --val" "--val FILE is required" --grid lr=1e-3 -- $TRAIN
bad "no --" "go after '--'" --grid lr=1e-3 $V
bad "nothing after --" "no arguments for sluice-train" --grid lr=1e-3 $V --
bad "nothing to sweep" "nothing to sweep" $V -- $TRAIN
bad "-o among train's arguments" "no -o" --grid lr=1e-3 $V -- $TRAIN -o x.sl
bad "--threads among train's arguments" "--threads is set by sluice-sweep" --grid lr=1e-3 $V -- $TRAIN --threads 2
bad "--checkpoint among train's arguments" "--checkpoint is set" --grid lr=1e-3 $V -- $TRAIN --checkpoint=c.sl
bad "a swept option also given" "--lr is also swept" --grid lr=1e-3 $V -- $TRAIN --lr=0.1
bad "standard input as data" "not standard input" --grid lr=1e-3 $V -- --target y -
bad "--jobs 0" "--jobs: a number" -j 0 --grid lr=1e-3 $V -- $TRAIN
bad "an unknown option" "" --no-such $V -- $TRAIN
run env SLUICE_BIN="$T/none" PATH=/nonexistent "$B/bin/sluice-sweep" -n --grid lr=1e-3 $V -- $TRAIN
ok_rc "sluice-train found beside sluice-sweep" 0

# --- failing trials
run sluice-sweep --grid hidden=0,16 --val "$T/val.sl" --best "$T/fb.sl" -o "$T/f.sl" \
	--threads 1 -- $TRAIN --lr 0.03
ok_rc "a failing trial: the sweep still exits 0" 0
is "a failing trial: its record says why, the other is kept" "$(recs "$T/f.sl" | $PY -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l); print(r["trial"], r["status"], r["val_metric"] is None, r["error"] or "-")')" \
	"1 failed True exit 2: sluice-train: --hidden: positive whole numbers separated by commas, not '0'
2 ok False -"
like "a failing trial: reported on stderr" "$(cat "$T/err")" \
	"sluice-sweep: trial 1 \(hidden=0\) failed: exit 2: sluice-train: --hidden"
like "a failing trial: the count" "$(tail -n 1 "$T/err")" "2 trials, 1 failed; best: trial 2"
is_file "a failing trial: the best is the other" "$T/fb.sl" \
	"$(sluice-sweep --grid hidden=16 --val "$T/val.sl" --dir "$T/d1" --threads 1 -- $TRAIN --lr 0.03 \
		>/dev/null 2>&1; echo "$T/d1/trial-1.sl")"

# a trainer that is killed, and one that writes no model (via SLUICE_BIN)
mkdir "$T/fake"
cat > "$T/fake/sluice-train" <<EOF
#!/bin/sh
case " \$* " in
*" --lr 9 "*) kill -9 \$\$ ;;
*" --lr 8 "*) echo "not a model"; exit 0 ;;
esac
exec "$B/bin/sluice-train" "\$@"
EOF
chmod +x "$T/fake/sluice-train"
run env SLUICE_BIN="$T/fake" sluice-sweep --grid lr=9,0.03,8 --val "$T/val.sl" -o "$T/k.sl" \
	--best "$T/kb.sl" --threads 1 -j 3 -- $TRAIN --hidden 16
ok_rc "killed trials: exit 0" 0
is "killed trials: the records" "$(recs "$T/k.sl" | $PY -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l); print(r["trial"], r["lr"], r["status"], (r["error"] or "-")[:25])')" \
	"1 9.0 failed killed by signal 9
2 0.03 ok -
3 8.0 failed trial-3.sl: byte 0: expec"
is_file "killed trials: the best is trial 2" "$T/kb.sl" "$T/best.sl"
run env SLUICE_BIN="$T/fake" TMPDIR="$T/tmp" sluice-sweep --grid lr=9,8 --val "$T/val.sl" \
	-o "$T/all.sl" --best "$T/allb.sl" --threads 1 -- $TRAIN
ok_rc "every trial failing: exit 1" 1
like "every trial failing: said so" "$(tail -n 1 "$T/err")" "2 trials, every one failed"
is "every trial failing: two records, no best model" \
	"$(recs "$T/all.sl" | wc -l) $(ls "$T/allb.sl" 2>/dev/null)" "2 "
is "every trial failing: the temporary directory is gone" "$(ls -A "$T/tmp")" ""

# a signal stops the running trials and removes the temporary files
cat > "$T/fake/sluice-train" <<'EOF'
#!/bin/sh
exec sleep 30
EOF
env SLUICE_BIN="$T/fake" TMPDIR="$T/tmp" sluice-sweep --grid lr=1,2 -j 2 --val "$T/val.sl" \
	-o "$T/sig.sl" --threads 1 -- $TRAIN > "$T/out" 2> "$T/err" &
pid=$!
i=0
while [ "$(ls -A "$T/tmp" | wc -l)" -lt 1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
kill -TERM $pid
wait $pid
rc=$?
is "a signal: ended by SIGTERM" "$rc" 143
is "a signal: no output, no temporary files" "$(ls "$T/sig.sl" 2>/dev/null; ls -A "$T/tmp")" ""
sleep 0.2
like "a signal: the trials are stopped" "$(ps -eo args | grep -c "^sleep 30$")" "^0$"

done_testing

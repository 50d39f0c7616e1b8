#!/bin/sh
# The library writer's -o: atomic for regular files (no partial file
# under the real name after an error), in place for pipes and devices
# (a FIFO stays a FIFO), loud on a full disk.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

$PY - "$T/in.sl" <<'PYEOF'
import msgpack, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["x", "int"]], "lineage": []}))
    for i in range(5):
        f.write(msgpack.packb([i]))
PYEOF
mkfifo "$T/fifo"
cat "$T/fifo" > "$T/from-fifo" &
reader=$!
run sluice-split --mode hash -o "$T/fifo" "$T/in.sl"
wait $reader
ok_rc "writing into a FIFO succeeds" 0
if [ -p "$T/fifo" ]; then pass "the FIFO is still a FIFO"; else fail "the FIFO is still a FIFO"; fi
is "the records went through it" "$(sluice-cat --json "$T/from-fifo" | wc -l | tr -d ' ')" "5"

echo old > "$T/out.sl"
run sluice-split -o "$T/out.sl" "$TOP/tests/malformed/truncated-record.bin"
ok_rc "a failed run exits 1" 1
is "and leaves the old file untouched" "$(cat "$T/out.sl")" "old"
is "and no temporary file behind" "$(ls -a "$T" | grep -c sluice-)" "0"

if [ -w /dev/full ]; then
	run sluice-split -o /dev/full "$T/in.sl"
	ok_rc "a full disk exits 1" 1
	like "... with a write error" "$(cat "$T/err")" "/dev/full: write error: No space left on device"
	run sh -c "sluice-split -f < '$T/in.sl' > /dev/full"
	ok_rc "a full stdout exits 1" 1
fi
$PY - "$T/big.sl" <<'PYEOF'
import msgpack, sys
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb({"sluice": 1, "fields": [["x", "int"]], "lineage": []}))
    for i in range(300000):
        f.write(msgpack.packb([i]))
PYEOF
run bash -c "sluice-split --mode hash '$T/big.sl' | head -c 1 > /dev/null; exit \${PIPESTATUS[0]}"
ok_rc "a reader closing the pipe ends the writer by SIGPIPE" 141
is "quietly: nothing on stderr" "$(cat "$T/err")" ""
done_testing

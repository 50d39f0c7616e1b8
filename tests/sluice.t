#!/bin/sh
# The front command: dispatch, listing, unknown stages, --version.
. "$(dirname "$0")/lib.sh"

run sluice --version
is "sluice --version" "$(cat "$T/out")" "sluice 0.1.0"
run sluice
ok_rc "sluice alone exits 0" 0
like "sluice alone prints the usage" "$(cat "$T/out")" "^usage: sluice STAGE"
run sluice no-such-stage
ok_rc "unknown stage exits 2" 2
like "unknown stage is named" "$(cat "$T/err")" "no stage 'no-such-stage'"
run sluice --bogus
ok_rc "unknown option exits 2" 2

# Dispatch goes to the program beside the front command, with arguments.
mkdir -p "$T/bin"
cp "$B/bin/sluice" "$T/bin/sluice"
printf '#!/bin/sh\necho "args: $*"\nexit 3\n' > "$T/bin/sluice-echo"
chmod +x "$T/bin/sluice-echo"
run "$T/bin/sluice" echo a 'b c'
ok_rc "the stage's exit status comes back" 3
is "arguments are passed on" "$(cat "$T/out")" "args: a b c"
cp "$T/bin/sluice-echo" "$T/bin/sluice-split"
run env PATH=/usr/bin:/bin "$T/bin/sluice"
like "a stage beside the front command is listed" "$(cat "$T/out")" "  split +train/validation/test"
like "a stage that is not there is not listed" "$(grep -c 'ingest' "$T/out")" "^0$"
done_testing

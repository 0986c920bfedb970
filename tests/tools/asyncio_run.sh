#!/usr/bin/env bash
# tools/asyncio-run: outputs and prefixes, the -j bound, --fail-fast, the
# worst status, bad usage. Usage: tests/tools/asyncio_run.sh PATH_TO_asyncio-run
set -uo pipefail
run=${1:?usage: $0 PATH_TO_asyncio-run}
dir=$(mktemp -d "${TMPDIR:-/tmp}/asyncio-run-test.XXXXXX")
trap 'rm -rf "$dir"' EXIT
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
# check WHAT WANT_STATUS COMMAND...: runs it (output in $dir/out).
check() {
    local what=$1 want=$2 got
    shift 2
    "$@" >"$dir/out" 2>"$dir/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$what: exit $got, expected $want"
        sed 's/^/    out: /' "$dir/out" | head -20
        sed 's/^/    err: /' "$dir/err" | head -20
    else
        echo "ok: $what"
    fi
}
has() { grep -qxF -- "$2" "$dir/out" || fail "$1: no line '$2' in the output"; }
hasnt() { ! grep -qF -- "$2" "$dir/out" || fail "$1: '$2' in the output"; }

# Outputs, line by line with the index prefix; a last line without '\n'.
check "outputs and prefixes" 0 "$run" -j 2 'echo a; echo b' 'printf "c\nd"' 'echo e >&2'
has "outputs" "[1] a"
has "outputs" "[1] b"
has "outputs" "[2] c"
has "outputs" "[2] d"
has "outputs (stderr)" "[3] e"
[ "$(wc -l <"$dir/out")" -eq 5 ] || fail "outputs: $(wc -l <"$dir/out") lines, expected 5"
# Lines of one command keep their order.
[ "$(grep -F '[1]' "$dir/out" | tr -d '\n')" = "[1] a[1] b" ] || fail "outputs: order of [1]"

check "prefix=name" 0 "$run" --prefix=name 'echo hi' '/bin/echo there'
has "prefix=name" "[echo] hi"
has "prefix=name" "[echo] there"
check "prefix=none" 0 "$run" --prefix=none 'echo plain'
has "prefix=none" "plain"

# A line streamed before its command ends: the second command waits for
# the first one's line to be printed (it reads the output file).
"$run" -j 2 "echo first; while [ ! -e $dir/go ]; do sleep 0.05; done" \
    "for i in \$(seq 600); do grep -q 'first' $dir/streamed 2>/dev/null && { touch $dir/go; exit 0; }; sleep 0.05; done; touch $dir/go; exit 9" \
    >"$dir/streamed" 2>&1
[ $? -eq 0 ] || fail "streamed: the first line was not printed while its command ran"

# The worst status wins; a signal counts as 128+S.
check "worst status" 5 "$run" -j 3 'exit 3' 'exit 5' 'true'
check "signal status" 137 "$run" 'kill -9 $$' 'exit 2'
check "all succeed" 0 "$run" -j 1 true true

# -j bounds the commands running at once: each marks itself in $dir/slots
# while it runs and records how many marks it saw.
mkdir "$dir/slots"
cmd="touch $dir/slots/\$\$; ls $dir/slots | wc -l >>$dir/seen; sleep 0.1; rm $dir/slots/\$\$"
check "-j 2" 0 "$run" -j 2 "$cmd" "$cmd" "$cmd" "$cmd" "$cmd" "$cmd"
[ "$(sort -n "$dir/seen" | tail -1)" -le 2 ] || fail "-j 2: $(sort -n "$dir/seen" | tail -1) at once"
[ "$(wc -l <"$dir/seen")" -eq 6 ] || fail "-j 2: not every command ran"
rm -f "$dir/seen"
check "-j 1" 0 "$run" -j1 "$cmd" "$cmd" "$cmd"
[ "$(sort -n "$dir/seen" | tail -1)" -eq 1 ] || fail "-j 1: more than one at once"

# --fail-fast: the first failure stops the running ones (with their own
# children) and starts no more; its status is the exit status.
start=$(date +%s)
long="sleep 60.$$"   # unique to this run: other runs may sleep too
check "--fail-fast" 3 "$run" -j 2 --fail-fast 'sleep 0.3; exit 3' "$long; echo never" 'echo not-started'
hasnt "--fail-fast" "never"
hasnt "--fail-fast" "not-started"
[ $(($(date +%s) - start)) -lt 50 ] || fail "--fail-fast: the sleeping command was not stopped"
pgrep -f "^$long\$" >/dev/null && fail "--fail-fast: a '$long' is left running"
# Without it, every command runs.
check "no --fail-fast" 3 "$run" -j 2 'exit 3' 'echo ran'
has "no --fail-fast" "[2] ran"

# Bad usage: exit 2.
check "no command" 2 "$run"
check "-j 0" 2 "$run" -j 0 true
check "bad prefix" 2 "$run" --prefix=what true
check "unknown option" 2 "$run" --no-such-option true
check "--help" 0 "$run" --help
grep -q '^usage:' "$dir/out" || fail "--help: no usage"

echo "tools/asyncio-run: $failures failure(s)"
[ "$failures" -eq 0 ]

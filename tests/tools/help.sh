#!/usr/bin/env bash
# tools/help: every program in tools/ behaves like a tool. Each executable
# file of the source tools/ (scripts) and of the build's tools/ (programs)
# must answer --help with exit 0 and a usage text with an example, and
# reject an unknown option with exit 2. Then the arguments that name
# things: asynclib-bench's cases (--list, an unknown case), selectors-bench's
# and asyncio-bench's backends, bootstrap's profiles, asynclib-demo's (none).
#
# Usage: tests/tools/help.sh SOURCE_TOOLS_DIR BUILD_TOOLS_DIR
set -uo pipefail

src=${1:?usage: $0 SOURCE_TOOLS_DIR BUILD_TOOLS_DIR}
bin=${2:?usage: $0 SOURCE_TOOLS_DIR BUILD_TOOLS_DIR}
out=$(mktemp "${TMPDIR:-/tmp}/tools-help.XXXXXX")
trap 'rm -f "$out"' EXIT
failures=0
checked=0

# expect STATUS WHAT COMMAND...: runs COMMAND (output in $out), checks its exit status.
expect() {
    local want=$1 what=$2 got
    shift 2
    "$@" >"$out" 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $what: exit $got, expected $want: $*"
        sed 's/^/    /' "$out" | head -n 20
        failures=$((failures + 1))
        return 1
    fi
    return 0
}

# contains WHAT REGEX: the last output matches REGEX (extended, ignoring case).
contains() {
    if ! grep -qiE "$2" "$out"; then
        echo "FAIL: $1: output has no match for /$2/"
        failures=$((failures + 1))
    fi
}

tools=()
for f in "$src"/* "$bin"/*; do
    [ -f "$f" ] && [ -x "$f" ] && tools+=("$f")
done
for t in "${tools[@]}"; do
    name=${t##*/}
    checked=$((checked + 1))
    if expect 0 "$name --help" "$t" --help; then
        contains "$name --help" '^usage:'
        contains "$name --help" '^example'
        echo "ok: $name --help: $(head -n 1 "$out")"
    fi
    expect 2 "$name --no-such-option" "$t" --no-such-option && echo "ok: $name rejects --no-such-option"
done

# Programs that must be there (a build without them fails this test).
for name in bootstrap conformance sync_bench_asyncio.py asynclib-demo asynclib-bench selectors-bench asyncio-bench; do
    if [ ! -x "$src/$name" ] && [ ! -x "$bin/$name" ]; then
        echo "FAIL: no tool $name in $src or $bin"
        failures=$((failures + 1))
    fi
done

if expect 0 "asynclib-bench --list" "$bin/asynclib-bench" --list; then
    contains "asynclib-bench --list" '^await_roundtrip$'
fi
expect 2 "asynclib-bench with an unknown case" "$bin/asynclib-bench" no_such_case
contains "asynclib-bench with an unknown case" "no case 'no_such_case'"
expect 2 "selectors-bench with an unknown backend" "$bin/selectors-bench" no_such_backend
contains "selectors-bench with an unknown backend" "unknown selector backend"
expect 2 "asyncio-bench with an unknown backend" "$bin/asyncio-bench" no_such_backend
contains "asyncio-bench with an unknown backend" "unknown selector backend"
expect 2 "asynclib-demo with an argument" "$bin/asynclib-demo" extra
expect 2 "bootstrap with an unknown profile" "$src/bootstrap" no_such_profile
contains "bootstrap with an unknown profile" "unknown profile"
expect 2 "conformance with an unknown option" "$src/conformance" --no-such-option

echo "tools/help: $checked tools checked, $failures failure(s)"
[ "$failures" -eq 0 ]

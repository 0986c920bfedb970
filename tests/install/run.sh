#!/usr/bin/env bash
# Out-of-tree consumer test: installs a build tree into a temporary prefix
# (no DESTDIR, as `cmake --install build --prefix P` does), then builds
# tests/install/consumer against it the ways the README shows, and RUNS
# every binary with a clean environment (no LD_LIBRARY_PATH):
#   - CMake find_package(asynclib): shared targets (build-tree RPATH) and
#     _static targets;
#   - pkg-config, shared, with the README's -Wl,-rpath line;
#   - pkg-config --static with the README's -l:libNAME.a substitution;
#   - the README's example program (its first C block), -Werror.
# It also checks that the install told the user the prefix is not on the
# dynamic linker's path (cmake/ldconfig.cmake).
#
# Usage: tests/install/run.sh BUILD_DIR     (an already built tree)
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR}
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
work=$(mktemp -d "${TMPDIR:-/tmp}/asynclib-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
src=$here/consumer/consumer.c

step() { printf 'install: %s\n' "$*"; }
fail() {
    echo "install: $*" >&2
    exit 1
}
# Runs a consumer as a user would: no LD_LIBRARY_PATH from the caller.
run() { env -u LD_LIBRARY_PATH "$@"; }
# The binary must not need the shared libraries at all.
no_shared() {
    if ldd "$1" | grep -q 'libasynclib\|libselectors\|libasyncio'; then
        fail "$1 links the shared libraries"
    fi
}

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
grep -q "is not on the dynamic linker's path" "$work/install.log" ||
    fail "the install did not say that $prefix needs an rpath"

# The build's compiler flags (sanitizers) are not part of the package: build
# the consumer plainly, which is what an outside user does.
unset CFLAGS LDFLAGS

step "CMake consumer (find_package(asynclib), shared and static)"
cmake -S "$here/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake" >/dev/null
# The shared consumer finds libasynclib.so through its build-tree RPATH.
run "$work/cmake/consumer"
no_shared "$work/cmake/consumer_static"
run "$work/cmake/consumer_static"

pcdir=$(dirname "$(find "$prefix" -name asynclib.pc | head -n1)")
export PKG_CONFIG_PATH=$pcdir

step "pkg-config, shared, with an rpath (README)"
# shellcheck disable=SC2046
"$cc" "$src" $(pkg-config --cflags --libs asyncio) \
    -Wl,-rpath,"$(pkg-config --variable=libdir asynclib)" -o "$work/pc_consumer"
run "$work/pc_consumer"

step "pkg-config --static with -l:libNAME.a (README)"
# shellcheck disable=SC2046
"$cc" "$src" $(pkg-config --static --cflags --libs asyncio |
    sed 's/-lasyncio/-l:libasyncio.a/; s/-lasynclib/-l:libasynclib.a/; s/-lselectors/-l:libselectors.a/') \
    -o "$work/pc_consumer_static"
no_shared "$work/pc_consumer_static"
run "$work/pc_consumer_static"

step "the README's example program (its first C block), with the README's rpath line"
readme=$here/../../README.md
awk '/^```c$/ { inside = 1; next } inside && /^```$/ { exit } inside' "$readme" >"$work/app.c"
grep -q 'int main' "$work/app.c" || fail "no C example found in $readme"
# shellcheck disable=SC2046
"$cc" -Wall -Wextra -Werror "$work/app.c" $(pkg-config --cflags --libs asynclib) \
    -Wl,-rpath,"$(pkg-config --variable=libdir asynclib)" -o "$work/app"
run "$work/app" | tee "$work/app.out"
grep -q '^hello from a callback after' "$work/app.out" || fail "the README example printed nothing"

step "without an rpath, the shared consumer does not start (what the README warns of)"
# shellcheck disable=SC2046
"$cc" "$src" $(pkg-config --cflags --libs asyncio) -o "$work/pc_norpath"
if run "$work/pc_norpath" >/dev/null 2>&1; then
    # Possible only if a libasynclib.so.0 is installed system-wide too.
    ldconfig -p 2>/dev/null | grep -q 'libasynclib\.so\.0' ||
        fail "pc_norpath ran without an rpath: how did it find libasynclib.so.0?"
fi
step "ok"

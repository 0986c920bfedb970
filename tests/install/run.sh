#!/usr/bin/env bash
# Out-of-tree consumer test: installs a build tree into a temporary prefix,
# then builds tests/install/consumer against it with CMake (find_package,
# shared and static targets) and with plain cc + pkg-config (shared and
# --static), and runs every binary.
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

step() { printf 'install: %s\n' "$*"; }

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null

# The build's compiler flags (sanitizers) are not part of the package: build
# the consumer plainly, which is what an outside user does.
unset CFLAGS LDFLAGS

step "CMake consumer (find_package(asynclib), shared and static)"
cmake -S "$here/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake" >/dev/null
# The shared consumer must find libasynclib.so through its RPATH (CMake
# sets it for imported targets in the build tree), not LD_LIBRARY_PATH.
"$work/cmake/consumer"
"$work/cmake/consumer_static"
if ldd "$work/cmake/consumer_static" | grep -q 'libasynclib\|libselectors'; then
    echo "install: consumer_static links the shared libraries" >&2
    exit 1
fi

pcdir=$(dirname "$(find "$prefix" -name asynclib.pc | head -n1)")
export PKG_CONFIG_PATH=$pcdir
step "pkg-config consumer (shared): cc \$(pkg-config --cflags --libs asynclib selectors)"
# shellcheck disable=SC2046
"$cc" -o "$work/pc_consumer" "$here/consumer/consumer.c" $(pkg-config --cflags --libs asynclib selectors)
LD_LIBRARY_PATH="$(pkg-config --variable=libdir asynclib)" "$work/pc_consumer"

# --static: our archives (libasynclib.a, libselectors.a) plus the private
# dependencies that pkg-config --static adds (libev, liburing, libm,
# pthreads), which stay whatever the system links by default. -Bstatic is
# put around our two libraries only: a static libm with a shared libc
# does not link.
step "pkg-config consumer (static): cc \$(pkg-config --static --cflags --libs asynclib selectors)"
static_libs=()
for flag in $(pkg-config --static --libs asynclib selectors); do
    case $flag in
    -lasynclib | -lselectors) static_libs+=("-Wl,-Bstatic" "$flag" "-Wl,-Bdynamic") ;;
    *) static_libs+=("$flag") ;;
    esac
done
# shellcheck disable=SC2046
"$cc" -o "$work/pc_consumer_static" "$here/consumer/consumer.c" \
    $(pkg-config --static --cflags asynclib selectors) "${static_libs[@]}"
if ldd "$work/pc_consumer_static" | grep -q 'libasynclib\|libselectors'; then
    echo "install: pc_consumer_static links the shared libraries" >&2
    exit 1
fi
"$work/pc_consumer_static"
step "ok"

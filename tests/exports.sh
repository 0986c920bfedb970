#!/bin/sh
# Checks that a layer's shared library exports exactly the functions its
# public headers declare with the layer's export macro: nothing internal
# (PREFIX_* names, backend tables, helpers), nothing public missing, and
# every exported name carries the layer's public prefix.
#   exports.sh LIB.so INCLUDE_DIR MACRO PREFIX
#   e.g. exports.sh libasynclib.so asynclib/include/asynclib AL_API al_
set -eu
usage='usage: exports.sh LIB INCLUDE_DIR MACRO PREFIX'
lib=${1:?$usage}
inc=${2:?$usage}
macro=${3:?$usage}
prefix=${4:?$usage}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' | sed 's/@.*//' |
    grep -v '^_' | sort -u >"$tmp/exported"
# Declarations may wrap: join the lines; export.h only defines the macro.
ls "$inc"/*.h | grep -v '/export\.h$' | xargs cat | tr '\n' ' ' |
    grep -o "$macro [a-z][^;(#]*(" |
    sed -E 's/\($//; s/.*[ *]([a-z_][a-z0-9_]*)$/\1/' | sort -u >"$tmp/declared"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "exports.sh: $lib exports differ from the $macro declarations (- declared only, + exported only)" >&2
    exit 1
fi
bad=$(grep -v "^$prefix" "$tmp/exported" || true)
internal=$(grep "^${prefix}_" "$tmp/exported" || true)
if [ -n "$bad$internal" ]; then
    echo "exports.sh: $lib exports names outside the public prefix $prefix: $bad $internal" >&2
    exit 1
fi
echo "exports.sh: $(wc -l <"$tmp/exported") public functions exported ($prefix*), nothing else"

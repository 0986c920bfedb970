#!/bin/sh
# Checks that a libselectors shared library exports exactly the functions
# its public headers declare with SEL_API: nothing internal (sel__*, the
# backends' tables), nothing public missing.
#   exports.sh LIBSELECTORS.so INCLUDE_DIR
set -eu
lib=${1:?usage: exports.sh LIB INCLUDE_DIR}
inc=${2:?usage: exports.sh LIB INCLUDE_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' | sed 's/@.*//' |
    grep -v '^_' | sort -u >"$tmp/exported"
# Declarations may wrap: join the lines; export.h only defines the macro.
ls "$inc"/*.h | grep -v '/export\.h$' | xargs cat | tr '\n' ' ' |
    grep -o 'SEL_API [a-z][^;(#]*(' |
    sed -E 's/\($//; s/.*[ *]([a-z_][a-z0-9_]*)$/\1/' | sort -u >"$tmp/declared"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "exports.sh: $lib exports differ from the SEL_API declarations (- declared only, + exported only)" >&2
    exit 1
fi
echo "exports.sh: $(wc -l <"$tmp/exported") public functions exported, nothing else"

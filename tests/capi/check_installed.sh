#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds a C program
# against the installed C API twice: with pkg-config (syncstack.pc) and with
# find_package(syncstack COMPONENTS c). Runs both; checks the SONAME.
# usage: check_installed.sh <build dir> <tests/capi dir>
set -euo pipefail
build=$1 here=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
pc=$(find "$work/prefix" -name syncstack.pc)
[ -n "$pc" ] || { echo "no syncstack.pc installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir syncstack)
soname=$(readelf -d "$libdir/libsyncstack.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
major=$(pkg-config --modversion syncstack | cut -d. -f1)
[ "$soname" = "libsyncstack.so.$major" ] || {
  echo "SONAME is \"$soname\", expected libsyncstack.so.$major"; exit 1; }
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -pedantic "$here/installed/hello.c" \
  $(pkg-config --cflags --libs syncstack) -Wl,-rpath,"$libdir" \
  -o "$work/hello_pc"
"$work/hello_pc"
cmake -S "$here/installed" -B "$work/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/hello"

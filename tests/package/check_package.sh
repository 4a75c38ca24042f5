#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, builds the consumer programs
# against it with find_package(syncstack COMPONENTS ...), and runs them.
# usage: check_package.sh <build dir> <source dir>
set -euo pipefail
build=$1 source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source/tests/package/consumer" -B "$work/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DSYNCSTACK_EXAMPLE="$source/examples/quickstart/quickstart.cc" >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer"
"$work/build/reconcile_consumer"

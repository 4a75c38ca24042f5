#!/usr/bin/env bash
# Fresh machine to running demo: install dependencies, build (release), run
# `syncstack demo` on embedded SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake --preset release -DSYNCSTACK_BUILD_TESTS=OFF -DSYNCSTACK_BUILD_BENCH=OFF >/dev/null
cmake --build --preset release --target syncstack
./build/release/apps/syncstack/syncstack demo

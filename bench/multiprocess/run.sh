#!/usr/bin/env bash
# Several `syncstack serve` processes on one private PostgreSQL, under load
# (issue 15 item 7; figures in docs/benchmarks.md, "Several processes on one
# PostgreSQL"). Build the release binary first:
#   cmake --preset release && cmake --build --preset release --target syncstack
#   bench/multiprocess/run.sh [--processes 1,2,4] [--accounts 1000] [--seconds 20]
# SYNCSTACK=path/to/syncstack picks another binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
syncstack="${SYNCSTACK:-$root/build/release/apps/syncstack/syncstack}"
if [ ! -x "$syncstack" ]; then
  echo "run.sh: no syncstack binary at $syncstack (build the release preset)" >&2
  exit 2
fi
exec "$root/scripts/with-postgres.sh" python3 \
  "$root/bench/multiprocess/multiprocess_bench.py" --syncstack "$syncstack" "$@"

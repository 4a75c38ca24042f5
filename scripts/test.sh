#!/usr/bin/env bash
# Fresh machine to green suite: install dependencies, check formatting,
# build (warnings are errors) and run every test, then run the tests again
# under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   SYNCSTACK_SKIP_SANITIZERS=1   skip the sanitizer pass (local iteration)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/install-deps.sh

echo "== format check"
./scripts/format.sh --check

echo "== build (dev)"
cmake --preset dev >/dev/null
cmake --build --preset dev
echo "== test (dev)"
./scripts/with-postgres.sh ctest --preset dev

if [ "${SYNCSTACK_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== build (asan-ubsan)"
  cmake --preset asan-ubsan >/dev/null
  cmake --build --preset asan-ubsan
  echo "== test (asan-ubsan)"
  ./scripts/with-postgres.sh ctest --preset asan-ubsan
fi
echo "== all tests passed in $(( $(date +%s) - start )) s"

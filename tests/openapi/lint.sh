#!/usr/bin/env bash
# Lints docs/openapi.yaml with @redocly/cli (tools/openapi, installed by
# scripts/install-deps.sh: npm ci --prefix tools/openapi). Without it the
# test is skipped (exit 77), except under CI=true, where it fails.
#   usage: lint.sh <source dir>
set -euo pipefail
src="$1"
redocly="$src/tools/openapi/node_modules/.bin/redocly"
if [ ! -x "$redocly" ] || ! command -v node >/dev/null; then
  msg="@redocly/cli is not installed: run scripts/install-deps.sh (npm ci --prefix tools/openapi)"
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL $msg (CI=true: not skipping)"
    exit 1
  fi
  echo "skip: $msg"
  exit 77
fi
exec "$redocly" lint --config "$src/tools/openapi/redocly.yaml" \
  "$src/docs/openapi.yaml"

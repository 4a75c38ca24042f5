#!/usr/bin/env bash
# Installs every package syncstack needs to build, test and benchmark, from
# Debian 12's own repositories, and the npm packages pinned under tools/.
# Safe to run again: apt does nothing when all are present (npm ci
# reinstalls the pinned tree). Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git python3
  clang-format
  libboost-program-options-dev
  libsqlite3-dev sqlite3
  rapidjson-dev libsimdjson-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  liblmdb-dev libpqxx-dev libpoco-dev libsodium-dev
  postgresql
  prometheus-cpp-dev python3-prometheus-client  # issue 15: GET /metrics and its parser test
  libssl-dev openssl libtomlplusplus-dev  # TLS (NetSSL is in libpoco-dev), serve --config
  python3-jsonschema python3-yaml  # OpenAPI examples test (issue 15 item 6)
  python3-pytest python3-matplotlib  # issue 17: the Python package's tests and example
)
# The OpenAPI validator's runtime (issue 15 item 6); a Node.js install that
# brings its own npm (e.g. NodeSource's) is kept as it is.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages, each folder pinned by its package-lock.json.
root="$(cd "$(dirname "$0")/.." && pwd)"
npm ci --prefix "$root/tools/openapi" --no-audit --no-fund  # @redocly/cli: docs/openapi.yaml (issue 15 item 6)

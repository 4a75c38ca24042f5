#!/usr/bin/env bash
# Installs every package syncstack needs to build, test and benchmark, from
# Debian 12's own repositories, and the npm packages its tests use (pinned
# by each folder's package-lock.json; never a downloaded browser). Safe to
# run again: it does nothing when all are present. Run as root (or with
# sudo).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

packages=(
  build-essential cmake ninja-build pkg-config git python3
  clang-format
  libboost-program-options-dev
  libsqlite3-dev sqlite3
  rapidjson-dev libsimdjson-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  liblmdb-dev libpqxx-dev libpoco-dev libsodium-dev
  postgresql
  prometheus-cpp-dev python3-prometheus-client  # GET /metrics and its parser test
  libssl-dev openssl libtomlplusplus-dev  # TLS (NetSSL is in libpoco-dev), serve --config
  python3-jsonschema python3-yaml  # the OpenAPI examples test
  python3-pytest python3-matplotlib  # the Python package's tests and example
  nodejs chromium  # the web app's tests: node runs playwright-core on Chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# npm comes with some builds of nodejs (NodeSource's); Debian's is a package.
command -v npm >/dev/null || missing+=(npm)
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
npm_ci() {
  if [ -d "$root/$1/node_modules" ] && [ "$root/$1/node_modules/.package-lock.json" -nt "$root/$1/package-lock.json" ]; then
    return 0
  fi
  npm ci --prefix "$root/$1" --no-audit --no-fund >/dev/null
  echo "install-deps: $1/node_modules ready"
}
npm_ci tools/openapi  # @redocly/cli: docs/openapi.yaml
npm_ci web            # playwright-core: the web app's browser test

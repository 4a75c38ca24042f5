#!/usr/bin/env bash
# Installs every package syncstack needs to build, test and benchmark, from
# Debian 12's own repositories. Safe to run again: it does nothing when all
# are present. Run as root (or with sudo).
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
  nodejs chromium  # the web app's tests (issue 17): node runs playwright-core on Chromium
)

# The web app's npm packages (playwright-core; never a downloaded browser).
install_web() {
  local root
  root="$(cd "$(dirname "$0")/.." && pwd)"
  npm ci --prefix "$root/web" --no-audit --no-fund >/dev/null
  echo "install-deps: web/node_modules ready"
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# npm comes with some builds of nodejs (NodeSource's); Debian's is a package.
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_web
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_web

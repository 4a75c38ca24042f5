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
  python3-pytest python3-matplotlib  # issue 17: the Python package's tests and example
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Requests/s of `syncstack serve` with and without TLS, through the
# library's client (bench/http/tls_bench): the same SQLite store and user
# behind a plain and a TLS server (a chain made at run time by
# tests/e2e/tls_certs.py), each measured with kept-alive connections and
# with a new connection per request. One JSON line per case.
#
#   bench/http/tls_compare.sh build/release/apps/syncstack/syncstack \
#       build/release/bench/http/tls_bench
# CLIENTS (default 4) and SECONDS_PER_RUN (default 5) change the load.
set -euo pipefail
bin=$1
bench=$2
clients=${CLIENTS:-4}
seconds=${SECONDS_PER_RUN:-5}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
python3 "$here/../../tests/e2e/tls_certs.py" "$dir" >/dev/null
"$bin" user add --store "sqlite:$dir/server.db" --user bench \
  --password bench-password >/dev/null

# Starts serve with "$@" and prints its URL.
start() {
  local log="$dir/serve$#.log"
  "$bin" serve --store "sqlite:$dir/server.db" --listen 127.0.0.1:0 "$@" \
    >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    url=$(grep -o 'https\?://127.0.0.1:[0-9]*' "$log" || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  echo "$url"
}

plain=$(start)
tls=$(start --tls-cert "$dir/chain.pem" --tls-key "$dir/leaf.key")
for url in "$plain" "$tls"; do
  trust=()
  [[ $url == https://* ]] && trust=(--ca-file "$dir/root.pem")
  for mode in "" --new-connections; do
    "$bench" --url "$url" "${trust[@]}" --user bench \
      --password bench-password --clients "$clients" --seconds "$seconds" \
      $mode
  done
done

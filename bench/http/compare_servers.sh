#!/usr/bin/env bash
# Runs bench/http/http_load against `syncstack serve` binaries one after the
# other, in the same run: 2,000 keep-alive clients, then 256 stalled
# connections beside 64 keep-alive clients. Each server gets a fresh SQLite
# store with one user; the load is GET /v1/fetch.json with its token.
#
#   bench/http/compare_servers.sh build/release/bench/http/http_load \
#       old=/work/wt/seed/build/release/apps/syncstack/syncstack \
#       new=build/release/apps/syncstack/syncstack
set -euo pipefail
load=$1
shift
seconds=${SECONDS_PER_RUN:-10}
for named in "$@"; do
  name=${named%%=*}
  bin=${named#*=}
  dir=$(mktemp -d)
  "$bin" user add --store "sqlite:$dir/server.db" --user bench \
    --password bench-password >/dev/null
  "$bin" serve --store "sqlite:$dir/server.db" --listen 127.0.0.1:0 \
    >"$dir/serve.log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/.*http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/serve.log")
    [ -n "$port" ] && break
    sleep 0.1
  done
  token=$(curl -s -X POST "http://127.0.0.1:$port/v1/login" \
    -d '{"user":"bench","password":"bench-password"}' |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  echo "== $name: 2000 keep-alive clients"
  "$load" --port "$port" --token "$token" --connections 2000 --stalled 0 \
    --seconds "$seconds"
  echo "== $name: 256 stalled connections + 64 keep-alive clients"
  "$load" --port "$port" --token "$token" --connections 64 --stalled 256 \
    --seconds "$seconds"
  kill "$pid"
  wait "$pid" || true
  rm -rf "$dir"
done

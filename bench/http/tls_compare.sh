#!/usr/bin/env bash
# Requests/s of `syncstack serve` with and without TLS, through the
# library's client (bench/http/tls_bench): the same SQLite store and user
# behind a plain and a TLS server (a chain made at run time by
# tests/e2e/tls_certs.py), each measured with kept-alive connections and
# with a new connection per request. One JSON line per case, with the
# server's CPU time per answered request (utime + stime of the serve
# process, from /proc): a figure a loaded machine disturbs less than
# requests/s.
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

# Starts serve with "$@"; sets `url` and `pid`.
start() {
  local log="$dir/serve$#.log"
  "$bin" serve --store "sqlite:$dir/server.db" --listen 127.0.0.1:0 "$@" \
    >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  url=""
  for _ in $(seq 100); do
    url=$(grep -o 'https\?://127.0.0.1:[0-9]*' "$log" || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
}

# CPU seconds (user + system) the process `$1` has used so far.
cpu_seconds() {
  awk -v tick="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / tick }' \
    "/proc/$1/stat"
}

start
plain=$url
plain_pid=$pid
start --tls-cert "$dir/chain.pem" --tls-key "$dir/leaf.key"
tls=$url
tls_pid=$pid
for url in "$plain" "$tls"; do
  trust=()
  pid=$plain_pid
  if [[ $url == https://* ]]; then
    trust=(--ca-file "$dir/root.pem")
    pid=$tls_pid
  fi
  for mode in "" --new-connections; do
    before=$(cpu_seconds "$pid")
    line=$("$bench" --url "$url" "${trust[@]}" --user bench \
      --password bench-password --clients "$clients" --seconds "$seconds" \
      $mode)
    after=$(cpu_seconds "$pid")
    python3 -c 'import json, sys
r = json.loads(sys.argv[1])
cpu = float(sys.argv[3]) - float(sys.argv[2])
r["server_cpu_ms_per_request"] = round(1000 * cpu / max(r["answers"], 1), 3)
print(json.dumps(r))' "$line" "$before" "$after"
  done
done

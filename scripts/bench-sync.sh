#!/usr/bin/env bash
# End-to-end sync benchmarks: builds the release `syncstack-bench-sync`
# (bench/sync, with the `syncstack` whose `serve` it starts) and runs it
# over stores, sizes and modes, each run filling the server once and
# syncing every change count after one cold sync (a JSON line per change
# count, appended to a results file), then prints markdown tables of every
# line in that file.
#
#   scripts/bench-sync.sh                      # the full matrix (slow at 1M)
#   STORES=sqlite NS=100000 MODES=full scripts/bench-sync.sh
#   SERVER_STORE=postgres STORES=sqlite NS=1000000 DS="0 10 1000" MODES=all \
#     scripts/with-postgres.sh scripts/bench-sync.sh
#
#   STORES   device stores to run     (default: "sqlite lmdb")
#   SERVER_STORE  the server's store: sqlite, lmdb or postgres (postgres
#            needs SYNCSTACK_PG_CONNINFO: run under scripts/with-postgres.sh)
#                                     (default: each run's device store)
#   NS       record counts            (default: "100000 1000000")
#   DS       change counts, all synced in one run after one fill and one
#            cold sync; "1%" is 1% of n (default: "0 10 1000 1%")
#   MODES    sync modes; "all" runs a round of each in one run
#                                     (default: "auto full")
#   REPEAT   rounds per mode and change count (default: 1)
#   RESULTS  results file, appended   (default: build/release/bench-sync.jsonl)
#   BENCH_DIR  where the runs' temp dirs go (default: the system temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."

STORES=${STORES:-"sqlite lmdb"}
SERVER_STORE=${SERVER_STORE:-}
NS=${NS:-"100000 1000000"}
DS=${DS:-"0 10 1000 1%"}
MODES=${MODES:-"auto full"}
REPEAT=${REPEAT:-1}
RESULTS=${RESULTS:-build/release/bench-sync.jsonl}

cmake --preset release >/dev/null
cmake --build --preset release --target syncstack-bench-sync syncstack
bin=build/release/bench/sync/syncstack-bench-sync
mkdir -p "$(dirname "$RESULTS")"

extra_args=(--repeat "$REPEAT")
if [ -n "${BENCH_DIR:-}" ]; then extra_args+=(--dir "$BENCH_DIR"); fi
if [ -n "$SERVER_STORE" ]; then extra_args+=(--server-store "$SERVER_STORE"); fi

for store in $STORES; do
  for n in $NS; do
    # The change counts for this n, without repeats, as one comma list.
    changes=()
    for d in $DS; do
      if [ "$d" = "1%" ]; then d=$((n / 100)); fi
      if [ "$d" -le "$n" ] && [[ ! " ${changes[*]} " =~ " $d " ]]; then
        changes+=("$d")
      fi
    done
    list=$(IFS=,; echo "${changes[*]}")
    for mode in $MODES; do
      echo "== $store${SERVER_STORE:+ (server $SERVER_STORE)} n=$n d=$list mode=$mode" >&2
      if lines=$("$bin" --store "$store" --records "$n" \
        --changes "$list" --mode "$mode" "${extra_args[@]}"); then
        echo "$lines" >>"$RESULTS"
      else
        echo "bench-sync: $store n=$n d=$list mode=$mode failed" >&2
      fi
    done
  done
done

python3 scripts/bench-sync-tables.py "$RESULTS"

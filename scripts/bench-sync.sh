#!/usr/bin/env bash
# End-to-end sync benchmarks: builds the release `syncstack-bench-sync`
# (bench/sync, with the `syncstack` whose `serve` it starts) and runs it
# over stores, sizes, change counts and modes, one JSON line per run
# appended to a results file, then prints a markdown table of every line in
# that file.
#
#   scripts/bench-sync.sh                      # the full matrix (slow at 1M)
#   STORES=sqlite NS=100000 MODES=full scripts/bench-sync.sh
#
#   STORES   stores to run            (default: "sqlite lmdb")
#   NS       record counts            (default: "100000 1000000")
#   DS       change counts; "1%" is 1% of n (default: "0 10 1000 1%")
#   MODES    sync modes; "all" runs a round of each in one run
#                                     (default: "auto full")
#   RESULTS  results file, appended   (default: build/release/bench-sync.jsonl)
#   BENCH_DIR  where the runs' temp dirs go (default: the system temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."

STORES=${STORES:-"sqlite lmdb"}
NS=${NS:-"100000 1000000"}
DS=${DS:-"0 10 1000 1%"}
MODES=${MODES:-"auto full"}
RESULTS=${RESULTS:-build/release/bench-sync.jsonl}

cmake --preset release >/dev/null
cmake --build --preset release --target syncstack-bench-sync
bin=build/release/bench/sync/syncstack-bench-sync
mkdir -p "$(dirname "$RESULTS")"

dir_args=()
if [ -n "${BENCH_DIR:-}" ]; then dir_args=(--dir "$BENCH_DIR"); fi

for store in $STORES; do
  for n in $NS; do
    # The change counts for this n, without repeats.
    changes=()
    for d in $DS; do
      if [ "$d" = "1%" ]; then d=$((n / 100)); fi
      if [ "$d" -le "$n" ] && [[ ! " ${changes[*]} " =~ " $d " ]]; then
        changes+=("$d")
      fi
    done
    for d in "${changes[@]}"; do
      for mode in $MODES; do
        echo "== $store n=$n d=$d mode=$mode" >&2
        if line=$("$bin" --store "$store" --records "$n" \
          --changes "$d" --mode "$mode" "${dir_args[@]}"); then
          echo "$line" >>"$RESULTS"
        else
          echo "bench-sync: $store n=$n d=$d mode=$mode failed" >&2
        fi
      done
    done
  done
done

python3 - "$RESULTS" <<'EOF'
import json, sys

def mb(x):
    return "—" if x is None else f"{x:.0f}"

def kb(x):
    return f"{x / 1000:.1f}"

print("| store | n | d | mode | raw rows/s | cold s | cold rows/s | cold / raw "
      "| cold RSS MB (client/server) | incr. mode (reason) | incr. s "
      "| incr. kB sent/recv | incr. round trips | incr. RSS MB (client/server) "
      "| full s | full kB sent/recv | full round trips |")
print("|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:"
      "|---:|---:|---:|")
with open(sys.argv[1]) as f:
    for raw in f:
        if not raw.strip():
            continue
        r = json.loads(raw)
        c, i, u = r["cold"], r["incremental"], r["full"]
        reason = f" ({i['reason']})" if i["reason"] else ""
        print(f"| {r['store']} | {r['records']:,} | {r['changes']:,} "
              f"| {r['mode']} | {r['baseline_rows_per_s']:,.0f} "
              f"| {c['seconds']:.2f} | {c['rows_per_s']:,.0f} "
              f"| {c['ratio_to_raw']:.2f} "
              f"| {mb(c['client_peak_rss_mb'])}/{mb(c['server_peak_rss_mb'])} "
              f"| {i['mode']}{reason} | {i['seconds']:.3f} "
              f"| {kb(i['bytes_sent'])}/{kb(i['bytes_received'])} "
              f"| {i['round_trips']} "
              f"| {mb(i['client_peak_rss_mb'])}/{mb(i['server_peak_rss_mb'])} "
              f"| {u['seconds']:.3f} "
              f"| {kb(u['bytes_sent'])}/{kb(u['bytes_received'])} "
              f"| {u['round_trips']} |")
EOF

# --mode all: every mode's round side by side.
python3 - "$RESULTS" <<'EOF'
import json, sys

def mb(x):
    return "—" if x is None else f"{x:.0f}"

rows = []
with open(sys.argv[1]) as f:
    for raw in f:
        if raw.strip():
            r = json.loads(raw)
            for k in r.get("rounds", []):
                rows.append((r, k))
if rows:
    print()
    print("| store | n | d | asked | chose (reason) | s | ms login+lock "
          "| ms fetch/plan/exchange/verify/finish "
          "| kB sent/recv | round trips | RSS MB (device/server) |")
    print("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for r, k in rows:
        i = k["sync"]
        reason = f" ({i['reason']})" if i["reason"] else ""
        print(f"| {r['store']} | {r['records']:,} | {r['changes']:,} "
              f"| {k['asked']} | {i['mode']}{reason} | {i['seconds']:.3f} "
              f"| {i.get('lock_seconds', 0) * 1000:.1f}"
              f"{' (kept token)' if i.get('login_reused') else ''} "
              f"| {i['fetch_seconds'] * 1000:.1f}/{i['plan_seconds'] * 1000:.1f}"
              f"/{i['exchange_seconds'] * 1000:.1f}"
              f"/{i.get('verify_seconds', 0) * 1000:.1f}"
              f"/{i.get('finish_seconds', 0) * 1000:.1f} "
              f"| {i['bytes_sent'] / 1000:.1f}/{i['bytes_received'] / 1000:.1f} "
              f"| {i['round_trips']} "
              f"| {mb(i['client_peak_rss_mb'])}/{mb(i['server_peak_rss_mb'])} |")
EOF

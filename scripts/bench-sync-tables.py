#!/usr/bin/env python3
"""Markdown tables of syncstack-bench-sync's JSON lines (bench/sync).

    scripts/bench-sync-tables.py RESULTS.jsonl

The first table has a line per run and change count: the cold sync (the
run's first sync, shown on the line of its first change count only: the
others share it), the first incremental round in the mode asked and the
first in mode full. The second has a line per run, change count and mode
asked: the median over that mode's rounds (--repeat) of every figure, the
wall time's min–max beside it, and the resident sets (peak, and at the
start; the anonymous part at the start → at the end).
"""
import json
import statistics
import sys


def mb(x):
    return "—" if x is None else f"{x:.0f}"


def ms(x):
    return "—" if x is None else f"{x * 1000:.1f}"


def kb(x):
    return f"{x / 1000:.1f}"


def stores(r):
    server = r.get("server_store", r["store"])
    return r["store"] if server == r["store"] else f"{r['store']}/{server}"


def read(path):
    with open(path) as f:
        return [json.loads(raw) for raw in f if raw.strip()]


def runs_table(lines):
    print("| store (device/server) | n | d | mode | raw rows/s | cold s "
          "| cold rows/s | cold / raw | cold RSS MB (client/server) "
          "| incr. mode (reason) | incr. s | incr. kB sent/recv "
          "| incr. round trips | incr. RSS MB (client/server) | full s "
          "| full kB sent/recv | full round trips |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:"
          "|---:|---:|---:|---:|")
    for r in lines:
        c, i, u = r["cold"], r["incremental"], r["full"]
        reason = f" ({i['reason']})" if i["reason"] else ""
        first = r.get("changes_in_run", [r["changes"]])[0] == r["changes"]
        cold = (f"{r['baseline_rows_per_s']:,.0f} | {c['seconds']:.2f} "
                f"| {c['rows_per_s']:,.0f} | {c['ratio_to_raw']:.2f} "
                f"| {mb(c['client_peak_rss_mb'])}/"
                f"{mb(c['server_peak_rss_mb'])}"
                if first else "〃 | 〃 | 〃 | 〃 | 〃")
        print(f"| {stores(r)} | {r['records']:,} | {r['changes']:,} "
              f"| {r['mode']} | {cold} "
              f"| {i['mode']}{reason} | {i['seconds']:.3f} "
              f"| {kb(i['bytes_sent'])}/{kb(i['bytes_received'])} "
              f"| {i['round_trips']} "
              f"| {mb(i['client_peak_rss_mb'])}/{mb(i['server_peak_rss_mb'])} "
              f"| {u['seconds']:.3f} "
              f"| {kb(u['bytes_sent'])}/{kb(u['bytes_received'])} "
              f"| {u['round_trips']} |")


def median(rounds, key):
    values = [k["sync"].get(key) for k in rounds]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def rss(rounds, side):
    """peak (at the start; anonymous part at the start → at the end)"""
    peak = median(rounds, f"{side}_peak_rss_mb")
    start = median(rounds, f"{side}_rss_start_mb")
    if start is None:  # a line from before these figures
        return mb(peak)
    return (f"{mb(peak)} ({mb(start)}; "
            f"{mb(median(rounds, f'{side}_anon_start_mb'))}→"
            f"{mb(median(rounds, f'{side}_anon_end_mb'))})")


def asked_and_chosen(asked, rounds):
    """The mode asked, and what the engine chose if that differs (the
    reasons, which name sequence numbers, are in the first table)."""
    chose = sorted({k["sync"]["mode"] for k in rounds})
    return asked if chose == [asked] else f"{asked} → {'/'.join(chose)}"


def byte_target(r, rounds):
    """Issue 13's byte target, 1.2 x the changed records' own JSON + 4 kB,
    and the median bytes (sent + received) as a share of it."""
    own = r.get("changed_json_bytes")
    if own is None:  # a line from before this figure
        return ""
    target = 1.2 * own + 4000
    used = median(rounds, "bytes_sent") + median(rounds, "bytes_received")
    return f"({used / target:.2f} of {target / 1000:.1f})"


def rounds_row(r, asked, rounds):
    walls = [k["sync"]["seconds"] for k in rounds]
    spread = (f" ({min(walls) * 1000:.1f}–{max(walls) * 1000:.1f})"
              if len(walls) > 1 else "")
    kept = all(k["sync"].get("login_reused") for k in rounds)
    loads = [k["sync"].get("load_1m") for k in rounds]
    loads = [x for x in loads if x is not None]
    load = f"{min(loads):.1f}–{max(loads):.1f}" if loads else "—"
    print(f"| {stores(r)} | {r['records']:,} | {r['changes']:,} "
          f"| {asked_and_chosen(asked, rounds)} | {len(rounds)} "
          f"| {statistics.median(walls) * 1000:.1f}{spread} "
          f"| {ms(median(rounds, 'lock_seconds'))}"
          f"{' (kept token)' if kept else ''} "
          f"| {ms(median(rounds, 'fetch_seconds'))} / "
          f"{ms(median(rounds, 'plan_seconds'))} / "
          f"{ms(median(rounds, 'exchange_seconds'))} / "
          f"{ms(median(rounds, 'verify_seconds'))} / "
          f"{ms(median(rounds, 'finish_seconds'))} "
          f"| {kb(median(rounds, 'bytes_sent'))}/"
          f"{kb(median(rounds, 'bytes_received'))} "
          f"{byte_target(r, rounds)} "
          f"| {median(rounds, 'round_trips'):.0f} "
          f"| {rss(rounds, 'client')} | {rss(rounds, 'server')} | {load} |")


def rounds_table(lines):
    groups = []
    for r in lines:
        by_mode = {}
        for k in r.get("rounds", []):
            by_mode.setdefault(k["asked"], []).append(k)
        groups += [(r, asked, rounds) for asked, rounds in by_mode.items()]
    if not groups:
        return
    print()
    print("| store (device/server) | n | d | asked → chose | rounds "
          "| wall ms, median (min–max) | login+lock ms "
          "| fetch / plan / exchange / verify / finish ms "
          "| kB sent/recv (share of the byte target of kB) | round trips "
          "| device RSS MB: peak (start; anon start→end) "
          "| server RSS MB: peak (start; anon start→end) | load 1m |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for group in groups:
        rounds_row(*group)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lines = read(sys.argv[1])
    runs_table(lines)
    rounds_table(lines)


if __name__ == "__main__":
    main()

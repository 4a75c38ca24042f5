#!/usr/bin/env python3
"""Compare conflict policies on one workload while device clocks drift
apart, and plot it: a researcher's notebook as a script.

Each policy runs the same simulated workload (devices editing offline,
syncing through the real engine and service) at each clock skew; the plot
shows lost updates and conflicts against the skew, one line per policy.

    python3 python/examples/compare_policies.py --out policies.png
    python3 python/examples/compare_policies.py --skews 0,5,60,600 \\
        --devices 5 --ops 400 --csv policies.csv --out policies.png

Needs Debian's python3-matplotlib and libsyncstack.so (SYNCSTACK_LIB, or a
build tree at build/dev).
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import syncstack  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="policies.png", help="the PNG to write")
    p.add_argument("--csv", help="also write the rows as CSV")
    p.add_argument("--skews", default="0,2,10,60,300",
                   help="clock skews in seconds, comma-separated")
    p.add_argument("--policies", default="all",
                   help="all, or policy names, comma-separated")
    p.add_argument("--devices", type=int, default=3)
    p.add_argument("--records", type=int, default=20)
    p.add_argument("--ops", type=int, default=200)
    p.add_argument("--offline", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def run(args):
    policies = ("all" if args.policies == "all"
                else args.policies.split(","))
    skews = [float(s) for s in args.skews.split(",")]
    return syncstack.simulate(devices=args.devices, records=args.records,
                              ops=args.ops, offline=args.offline,
                              seed=args.seed, skew=skews, policies=policies)


def by_policy(rows):
    out = {}
    for row in rows:
        out.setdefault(row["policy"], []).append(row)
    return out


def plot(rows, args):
    fig, (lost, conflicts) = plt.subplots(1, 2, figsize=(11, 4.5))
    for policy, series in by_policy(rows).items():
        skews = [r["skew_seconds"] for r in series]
        lost.plot(skews, [r["lost_updates"] for r in series], marker="o",
                  label=policy)
        conflicts.plot(skews, [r["conflicts"] for r in series], marker="o",
                       label=policy)
    for ax, title in ((lost, "lost updates"), (conflicts, "conflicts")):
        ax.set_title(title)
        ax.set_xlabel("largest device clock skew (s)")
        ax.set_xscale("symlog", linthresh=1)
        ax.grid(True, alpha=0.3)
    lost.set_ylabel("count")
    lost.legend(fontsize="small")
    fig.suptitle("syncstack %s: %d devices, %d records, %d writes, "
                 "offline %g, seed %d" % (syncstack.version(), args.devices,
                                          args.records, args.ops,
                                          args.offline, args.seed))
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    plt.close(fig)


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)


def main():
    args = parse_args()
    try:
        rows = run(args)
    except syncstack.SyncstackError as e:
        sys.exit("compare_policies: %s" % e)
    for r in rows:
        print("%-28s skew %6g s: %3d lost (%d silent), %3d conflicts, "
              "converged %s" % (r["policy"], r["skew_seconds"],
                                r["lost_updates"], r["silent_lost_updates"],
                                r["conflicts"], r["converged"]))
    plot(rows, args)
    print("wrote", args.out)
    if args.csv:
        write_csv(rows, args.csv)
        print("wrote", args.csv)


if __name__ == "__main__":
    main()

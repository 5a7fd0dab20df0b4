#!/usr/bin/env python3
"""Print criterion's results as a markdown table.

usage: python3 bench/criterion_table.py [CRITERION_DIR]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion (or target/criterion).
Each row is one benchmark: the median time per iteration, with criterion's
95 % confidence interval of that median.
"""

import json
import os
import sys


def human(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def main():
    if len(sys.argv) > 1:
        root = sys.argv[1]
    else:
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "target"
        )
        root = os.path.join(target, "criterion")
    rows = []
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median = json.load(f)["median"]
        ci = median["confidence_interval"]
        rows.append((bench["full_id"], median["point_estimate"], ci["lower_bound"], ci["upper_bound"]))
    rows.sort(key=lambda r: [int(p) if p.isdigit() else p for p in r[0].split("/")])
    print("| benchmark | median | 95 % CI of the median |")
    print("|---|---|---|")
    for name, point, lo, hi in rows:
        print(f"| `{name}` | {human(point)} | {human(lo)} – {human(hi)} |")


if __name__ == "__main__":
    main()

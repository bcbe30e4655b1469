#!/usr/bin/env python3
"""Compares builds over several runs of tools/bench/changes (stdlib only).

  changes_compare.py BASE LABEL=RAW.jsonl [LABEL=RAW.jsonl ...]
  changes_compare.py BASE RUNS.jsonl        (rows carrying "build" and "round", e.g.
                                             changes-results-2026-11-21-steps.jsonl)

Each RAW is one run's raw.jsonl (tools/bench/changes keeps it as $OUT/raw.jsonl); give each
label several runs, ideally interleaved (A B C A B C ...) so that a swing in the machine's load
or the disk's speed hits every build alike. Prints, per load level, the median over runs of
each figure, and each build's ratio to BASE as the median of per-round ratios (round k = the
k-th run of each label), then the references (bare audit appends, bare SQLite commits) of the
same runs.
"""
import json
import statistics
import sys

base = sys.argv[1]
runs = {}  # label -> [rows of one run]
for arg in sys.argv[2:]:
    if "=" in arg:
        label, path = arg.split("=", 1)
        runs.setdefault(label, []).append([json.loads(line) for line in open(path)])
        continue
    grouped = {}
    for line in open(arg):
        row = json.loads(line)
        grouped.setdefault((row["build"], row["round"]), []).append(row)
    for (label, _), rows in sorted(grouped.items()):
        runs.setdefault(label, []).append(rows)
labels = list(runs)
med = statistics.median


def level(rows, clients):
    return next((r for r in rows if r.get("bench") == "changes" and r["concurrency"] == clients), None)


def ratio(label, clients, key, invert=False):
    """Median over rounds of label/base for `key` (invert: base/label, for times)."""
    values = []
    for own, ref in zip(runs[label], runs[base]):
        a, b = level(own, clients), level(ref, clients)
        if a and b and a.get(key) and b.get(key):
            values.append(b[key] / a[key] if invert else a[key] / b[key])
    return med(values) if values else None


figures = [
    ("changesPerSecond", "changes/s", "{:.0f}", False),
    ("p50ms", "p50 ms", "{:.1f}", True),
    ("p99ms", "p99 ms", "{:.1f}", True),
    ("serverP50ms", "server p50 ms", "{:.0f}", True),
    ("gatewayCpuMsPerChange", "gateway CPU ms/change", "{:.2f}", True),
    ("allCpuMsPerChange", "all processes CPU ms/change", "{:.2f}", True),
]
levels = sorted({r["concurrency"] for rows in runs[base] for r in rows if r.get("bench") == "changes"})
for clients in levels:
    print(f"\n**{clients} client{'s' if clients > 1 else ''}** (median of runs; × = ratio to {base}, "
          "median of per-round ratios, > 1 is better)\n")
    print("| build | runs | " + " | ".join(name for _, name, _, _ in figures) + " |")
    print("|---|---|" + "---|" * len(figures))
    for label in labels:
        cells = []
        for key, _, fmt, invert in figures:
            values = [r[key] for rows in runs[label] if (r := level(rows, clients)) and r.get(key) is not None]
            if not values:
                cells.append("–")
                continue
            cell = fmt.format(med(values))
            x = ratio(label, clients, key, invert)
            if label != base and x is not None:
                cell += f" ({x:.2f}×)"
            cells.append(cell)
        print(f"| {label} | {len(runs[label])} | " + " | ".join(cells) + " |")

print("\n| reference, same runs (median; min–max) | appends or commits/s |")
print("|---|---|")
for bench, callers, name in [("append", 1, "audit bench-append, 1 caller"),
                             ("append", 64, "audit bench-append, 64 callers"),
                             ("sqlite", None, "bare SQLite commit, 1 writer")]:
    values = [r["perSecond"] for label in labels for rows in runs[label] for r in rows
              if r.get("bench") == bench and (callers is None or r.get("callers") == callers)]
    if values:
        print(f"| {name} | {med(values):.0f} ({min(values):.0f}–{max(values):.0f}) |")

"""Summarises tools/bench/audit's raw.jsonl: medians, and append throughput as a ratio to the
bare SQLite commit rate measured in the same run."""
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
med = statistics.median

print("| measurement | median | ratio to bare SQLite commit/s (median of per-run ratios) |")
print("|---|---|---|")
bare = {}  # (run, callers) -> [before, after]
for r in rows:
    if r["bench"] == "sqlite" and "position" in r:
        bare.setdefault((r["run"], r["callers"]), []).append(r["perSecond"])
if bare:
    all_bare = [v for vs in bare.values() for v in vs]
    print(f"| bare SQLite insert+commit, synchronous=FULL | {med(all_bare):.0f}/s "
          f"(min {min(all_bare):.0f}, max {max(all_bare):.0f}) | 1.00 |")
for callers in (1, 8, 64):
    sel = [r for r in rows if r["bench"] == "append" and r["callers"] == callers and r.get("store") != "postgres"]
    if not sel:
        continue
    ratios = [r["perSecond"] / statistics.mean(bare[(r["run"], callers)]) for r in sel if (r["run"], callers) in bare]
    batch = [r["appends"] / r["commits"] for r in sel if r.get("commits")]
    commit_ratio = [r["commitsPerSecond"] / statistics.mean(bare[(r["run"], callers)])
                    for r in sel if "commitsPerSecond" in r and (r["run"], callers) in bare]
    extra = ""
    if batch:
        extra = f"; {med(batch):.1f} entries/commit, commit rate {med(commit_ratio):.2f}x bare"
    print(f"| durable appends, {callers} caller{'s' if callers > 1 else ''} | {med(r['perSecond'] for r in sel):.0f}/s | "
          f"{med(ratios):.2f} (runs: {', '.join(f'{x:.2f}' for x in ratios)}){extra} |")
# PostgreSQL appends: as a ratio to the SQLite appends of the same run and callers.
for callers in (1, 8, 64):
    pg = {r["run"]: r for r in rows if r["bench"] == "append" and r["callers"] == callers and r.get("store") == "postgres"}
    lite = {r["run"]: r for r in rows if r["bench"] == "append" and r["callers"] == callers and r.get("store") != "postgres"}
    runs = sorted(set(pg) & set(lite))
    if not runs:
        continue
    ratios = [pg[run]["perSecond"] / lite[run]["perSecond"] for run in runs]
    batch = [pg[run]["appends"] / pg[run]["commits"] for run in runs if pg[run].get("commits")]
    print(f"| PostgreSQL appends, {callers} caller{'s' if callers > 1 else ''} | "
          f"{med(pg[run]['perSecond'] for run in runs):.0f}/s | {med(ratios):.2f}x the SQLite appends of the same run "
          f"(runs: {', '.join(f'{x:.2f}' for x in ratios)}); {med(batch):.1f} entries/commit |")
for r in rows:
    if r["bench"] == "bulk":
        size, seconds = r["size"], r["seconds"]
        print(f"| bulk build {size:,} entries | {seconds:.1f} s ({size / seconds:.0f}/s) | |")
ver = [r for r in rows if r["bench"] == "verify"]
if ver:
    print(f"| audit verify, 1,000,000 entries (whole process) | {med(r['seconds'] for r in ver):.2f} s "
          f"(runs: {', '.join('%.2f' % r['seconds'] for r in ver)}) | |")
for size in sorted({r["size"] for r in rows if r["bench"] == "proofs"}):
    sel = [r for r in rows if r["bench"] == "proofs" and r["size"] == size]
    print(f"| inclusion proof build+verify at {size:,} | {med(r['inclusionMedianMicroseconds'] for r in sel):.0f} µs | |")
    print(f"| consistency proof build+verify at {size:,} | {med(r['consistencyMedianMicroseconds'] for r in sel):.0f} µs | |")

"""Spread of several `bash bench/replay.sh` runs: per client and load, the range (min–max
over the runs) of events/s, the mock's CPU % and the TTFT error p50 and p99.

    python spread.py bench/results/replay-A.jsonl bench/results/replay-B.jsonl ..."""

import json
import sys

rows = {}
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        rows.setdefault(r["label"], []).append(r)


def span(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"


print(f"{len(sys.argv) - 1} runs\n")
print("| client | load | runs | events/s | mock CPU % | TTFT error p50 (ms) | TTFT error p99 (ms) "
      "| from the mock's read p50 (ms) | from the mock's read p99 (ms) | mock queue p99 (ms) |")
print("|---|---|---:|---|---|---|---|---|---|---|")


def field(rs, name, p):
    return [r[name][p] if r.get(name) else None for r in rs]


for label, rs in rows.items():
    client, load = label.split(" | ")
    print(f"| {client} | {load} | {len(rs)} | {span([r['events_per_s'] for r in rs], '{:,}')} | "
          f"{span([r.get('mock_cpu_pct') for r in rs], '{:.0f}')} | "
          f"{span([r['ttft_error_ms']['p50'] for r in rs], '{:.3f}')} | {span([r['ttft_error_ms']['p99'] for r in rs], '{:.3f}')} | "
          f"{span(field(rs, 'ttft_error_from_read_ms', 'p50'), '{:.3f}')} | {span(field(rs, 'ttft_error_from_read_ms', 'p99'), '{:.3f}')} | "
          f"{span(field(rs, 'mock_queue_ms', 'p99'), '{:.3f}')} |")

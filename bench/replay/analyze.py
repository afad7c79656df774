"""Joins a replay client's per-request numbers with `asb mock`'s truth log on x-request-id
and prints one JSON line: TTFT error (reported − true) percentiles, events/s and CPU.

    python analyze.py CLIENT TRUTH_LOG FORMAT WALL_S CPU_S LABEL [MOCK_CPU_PCT]
FORMAT is `asb` (a replay run JSON) or `peer` (peer_openai.py's lines). MOCK_CPU_PCT, the
server's CPU over the client's run, tells whether the truth can be trusted: the truth log
starts when the mock reads a request, so a saturated mock's socket queue lands in the error."""

import json
import sys


def pct(sorted_values, p):
    if not sorted_values:
        return None
    rank = p / 100 * (len(sorted_values) - 1)
    lo, hi = int(rank), min(int(rank) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (rank - lo)


client, truth_path, fmt, wall, cpu, label = sys.argv[1:7]
mock_cpu = float(sys.argv[7]) if len(sys.argv) > 7 else None
truth = {}
for line in open(truth_path):
    t = json.loads(line)
    truth[t["request_id"]] = t
if fmt == "asb":
    run = json.load(open(client))
    rows = [{"request_id": r["request_id"], "ttft_ms": r["ttft_ms"], "events": r["events"]} for r in run["requests"]]
else:
    rows = [json.loads(l) for l in open(client) if '"summary"' not in l]
errors = sorted(r["ttft_ms"] - truth[r["request_id"]]["ttft_ms"] for r in rows if r["ttft_ms"] is not None)
events = sum(r["events"] for r in rows)
wall, cpu = float(wall), float(cpu)
print(json.dumps({
    "label": label, "requests": len(rows), "events": events,
    "events_per_s": round(events / wall) if wall else None,
    "events_per_cpu_s": round(events / cpu) if cpu else None,
    "client_cpu_s": cpu, "wall_s": wall, "mock_cpu_pct": mock_cpu,
    "ttft_error_ms": {k: round(pct(errors, p), 3) for k, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
}))

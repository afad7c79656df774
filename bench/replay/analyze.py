"""Joins a replay client's per-request numbers with `asb mock`'s truth log on x-request-id
and prints one JSON line: TTFT error (reported − true) percentiles, events/s and CPU.

    python analyze.py CLIENT TRUTH_LOG FORMAT WALL_S CPU_S LABEL [MOCK_CPU_PCT]
FORMAT is `asb` (a replay run JSON) or `peer` (peer_openai.py's lines). MOCK_CPU_PCT, the
server's CPU over the client's run, says whether the mock was saturated.

The truth log starts a request when the kernel received it (the mock's `SO_TIMESTAMPNS`),
so a saturated mock's socket queue is counted as the server's time. Beside that error, the
line gives the error against the old truth, which started when the mock had read the
headers (truth TTFT − `read_ms`): the same run's requests, with the queue in the error,
and the queue itself (`read_ms`) and how many requests the kernel stamped."""

import json
import sys


def pct(sorted_values, p):
    if not sorted_values:
        return None
    rank = p / 100 * (len(sorted_values) - 1)
    lo, hi = int(rank), min(int(rank) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (rank - lo)


def percentiles(values):
    if not values:
        return None
    return {k: round(pct(values, p), 3) for k, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))}


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
timed = [(r, truth[r["request_id"]]) for r in rows if r["ttft_ms"] is not None]
errors = sorted(r["ttft_ms"] - t["ttft_ms"] for r, t in timed)
queued = sorted(t["read_ms"] for _, t in timed if t.get("read_ms") is not None)
errors_from_read = sorted(r["ttft_ms"] - (t["ttft_ms"] - (t.get("read_ms") or 0.0)) for r, t in timed)
events = sum(r["events"] for r in rows)
wall, cpu = float(wall), float(cpu)
print(json.dumps({
    "label": label, "requests": len(rows), "events": events,
    "events_per_s": round(events / wall) if wall else None,
    "events_per_cpu_s": round(events / cpu) if cpu else None,
    "client_cpu_s": cpu, "wall_s": wall, "mock_cpu_pct": mock_cpu,
    "ttft_error_ms": percentiles(errors),
    "ttft_error_from_read_ms": percentiles(errors_from_read),
    "mock_queue_ms": percentiles(queued),
    "kernel_stamped": len(queued), "timed": len(timed),
}))

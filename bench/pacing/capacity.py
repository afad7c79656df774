"""Summarises one `--session-rate` run of asb replay: schedule lag in the run's window (the
steady state), the most sessions in flight at once (from each session's start and end),
requests, the client's CPU, and its TTFT error in the window against the mock's truth log
(reported − true, the truth counted from the kernel's receipt of the request at the mock).

    python capacity.py RUN_JSON CPU_S WALL_S TARGET_SESSIONS [TRUTH_LOG]   (CPU_S over WALL_S of the window)"""

import json
import sys

run = json.load(open(sys.argv[1]))
cpu, wall, target = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
# Sweep over session starts (+1) and ends (−1) for the peak in flight.
edges = sorted([(s["start_ms"], 1) for s in run["sessions"] if s.get("start_ms") is not None]
               + [(s["end_ms"], -1) for s in run["sessions"] if s.get("end_ms") is not None])
live = peak = 0
for _, d in edges:
    live += d
    peak = max(peak, live)


def pct(v, p):
    if not v:
        return None
    rank = p / 100 * (len(v) - 1)
    lo, hi = int(rank), min(int(rank) + 1, len(v) - 1)
    return round(v[lo] + (v[hi] - v[lo]) * (rank - lo), 4)


ttft_error = None
if len(sys.argv) > 5:
    truth = {}
    for line in open(sys.argv[5]):
        t = json.loads(line)
        truth[t["request_id"]] = t["ttft_ms"]
    errors = sorted(r["ttft_ms"] - truth[r["request_id"]] for r in run["requests"]
                    if r.get("in_window") and r.get("ttft_ms") is not None and truth.get(r.get("request_id")) is not None)
    ttft_error = {k: pct(errors, p) for k, p in (("p50", 50), ("p99", 99), ("max", 100))} | {"n": len(errors)}
lag = run["load"]["schedule_lag_ms"]
window = run["load"]["window"]
print(json.dumps({
    "target_sessions": target, "peak_sessions": peak, "requests": len(run["requests"]),
    "requests_in_window": window["requests_in"], "window_ms": [window["from_ms"], window["to_ms"]],
    "failed": sum(1 for r in run["requests"] if not r["ok"]),
    "lag_ms": {k: round(lag[k], 4) for k in ("p50", "p99", "max")},
    "client_cpu_pct": round(100 * cpu / wall, 1),
    "ttft_error_ms": ttft_error,
}))

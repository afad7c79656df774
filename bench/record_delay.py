"""Per-event delay of one load run (bench/record.sh): each output event's wall-clock
arrival at the client (bench/sse_load.rs --events-out) minus the moment `asb mock` handed
that token to its connection (--truth-log: arrival_unix_ms + token_times_ms[i]), joined on
x-request-id. Prints one JSON object: count, p50, mean and p99 in µs.

    python3 bench/record_delay.py TRUTH.jsonl EVENTS.jsonl
"""
import json
import sys

truth = {}
for line in open(sys.argv[1]):
    t = json.loads(line)
    truth[t["request_id"]] = t
delays = []
unmatched = 0
for line in open(sys.argv[2]):
    e = json.loads(line)
    t = truth.get(e["id"])
    if t is None or len(t["token_times_ms"]) != len(e["arrivals_unix_ms"]):
        unmatched += 1
        continue
    for sent, arrived in zip(t["token_times_ms"], e["arrivals_unix_ms"]):
        delays.append((arrived - (t["arrival_unix_ms"] + sent)) * 1000.0)
delays.sort()


def pct(p):
    if not delays:
        return None
    rank = p / 100 * (len(delays) - 1)
    lo, hi = int(rank), min(int(rank) + 1, len(delays) - 1)
    return delays[lo] + (delays[hi] - delays[lo]) * (rank - lo)


mean = sum(delays) / len(delays) if delays else None
print(json.dumps({"events": len(delays), "unmatched_requests": unmatched, "p50_us": pct(50), "mean_us": mean, "p99_us": pct(99)}))

"""Per-event delay of one load run (bench/record.sh), from each output event's wall-clock
arrival at the client (bench/sse_load.rs --events-out) and the moment `asb mock` handed
that token to its connection (--truth-log: arrival_unix_ms + token_times_ms[i]), joined
on x-request-id. For event i of a request, d_i = arrival_i - sent_i. Prints one JSON
object (µs):

- p50_us / mean_us / p99_us: d_i over all events, the latency of one hop of each event;
- gap_p50_us / gap_mean_us / gap_p99_us: d_i - d_(i-1) over consecutive events of a
  request, how much longer the gap between two events is at the client than it was at
  the server: what a path adds to the inter-token latency a client measures.

    python3 bench/record_delay.py TRUTH.jsonl EVENTS.jsonl
"""
import json
import sys

truth = {}
for line in open(sys.argv[1]):
    t = json.loads(line)
    truth[t["request_id"]] = t
delays, gaps = [], []
unmatched = 0
for line in open(sys.argv[2]):
    e = json.loads(line)
    t = truth.get(e["id"])
    if t is None or len(t["token_times_ms"]) != len(e["arrivals_unix_ms"]):
        unmatched += 1
        continue
    d = [(arrived - (t["arrival_unix_ms"] + sent)) * 1000.0 for sent, arrived in zip(t["token_times_ms"], e["arrivals_unix_ms"])]
    delays.extend(d)
    gaps.extend(b - a for a, b in zip(d, d[1:]))


def pct(xs, p):
    if not xs:
        return None
    rank = p / 100 * (len(xs) - 1)
    lo, hi = int(rank), min(int(rank) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


def mean(xs):
    return sum(xs) / len(xs) if xs else None


delays.sort()
gaps.sort()
print(json.dumps({
    "events": len(delays), "unmatched_requests": unmatched,
    "p50_us": pct(delays, 50), "mean_us": mean(delays), "p99_us": pct(delays, 99),
    "gap_p50_us": pct(gaps, 50), "gap_mean_us": mean(gaps), "gap_p99_us": pct(gaps, 99),
}))

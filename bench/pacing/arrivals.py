"""Arrival-time error at the server, from `asb mock`'s truth log, for an open-loop run at a
constant rate R: the k-th arrival (in arrival order) against the grid t0 + k/R. Judges every
client the same way, whatever it reports about itself. An arrival is the truth log's
`arrival_unix_ms`: when the kernel received the request at the mock (the mock's own
wake-up and its socket queue are not in it). t0 is the median of (arrival k − k/R),
not the first arrival alone: a first request delayed by a connection's set-up would
otherwise shift every other error by that delay.

    python arrivals.py TRUTH_LOG RATE [SKIP]
SKIP: leave out the first SKIP arrivals (a client's connection set-up). Prints one JSON
object: count, achieved rate, and |error| p50 / p99 / max in ms, plus the first
arrival's own error."""

import json
import sys


def pct(s, p):
    rank = p / 100 * (len(s) - 1)
    lo, hi = int(rank), min(int(rank) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)


path, rate = sys.argv[1], float(sys.argv[2])
skip = int(sys.argv[3]) if len(sys.argv) > 3 else 0
arrivals = sorted(json.loads(line)["arrival_unix_ms"] for line in open(path))[skip:]
first = arrivals[0]
offsets = sorted(a - k * 1000.0 / rate for k, a in enumerate(arrivals))
t0 = offsets[len(offsets) // 2]
# Signed error of each arrival: positive = later than its place on the 1/R grid.
errors = [a - t0 - k * 1000.0 / rate for k, a in enumerate(arrivals)]
abs_sorted = sorted(abs(e) for e in errors)
span_s = (arrivals[-1] - first) / 1000.0
print(json.dumps({
    "arrivals": len(arrivals),
    "achieved_rate": round((len(arrivals) - 1) / span_s, 1) if span_s > 0 else None,
    "error_ms": {"p50": round(pct(abs_sorted, 50), 4), "p99": round(pct(abs_sorted, 99), 4),
                 "max": round(abs_sorted[-1], 4), "first": round(errors[0], 4)},
}))

"""Per-test overhead of the pytest plugin against vcrpy, on the same calls, in one process:
for each of N rounds, what a test pays around its LLM calls.

  asb:   AsbServer.start() (the fixture's own code: `asb serve -P 0` on the test's recording,
         until its URL is printed) → the first call answered (openai SDK) → the other calls →
         AsbServer.stop() (Ctrl+C, wait for exit).
  vcrpy: vcr.use_cassette(path).__enter__() (reads and parses the YAML cassette, patches
         httpx) → the first call answered → the others → __exit__.

Overhead = total − the same test body (a new SDK client, the same calls) against an already
running asb serve (warm): what starting, loading and stopping add. Prints one JSON object.

  python overhead.py record --asb URL_OF_MOCK --dir D --calls K     (makes both cassettes)
  python overhead.py measure --dir D --calls K --rounds N
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import openai
import vcr

from pytest_asb.server import AsbServer


def calls(client, k, first=0):
    for i in range(first, first + k):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"call {i} of a test"}],
                                       max_tokens=16)


def record(a):
    d = Path(a.dir)
    d.mkdir(parents=True, exist_ok=True)
    # asb: serve in record mode `all` in front of the mock.
    s = AsbServer(a.asb_bin, d / "asb.jsonl", "all", ["-e", a.mock, "-m", "m"]).start()
    calls(openai.OpenAI(base_url=s.openai_base_url, api_key="x", max_retries=0), a.calls)
    s.stop()
    s.cleanup()
    # vcrpy: the same calls to the mock, recorded by vcrpy.
    with vcr.use_cassette(str(d / "vcr.yaml"), record_mode="all"):
        calls(openai.OpenAI(base_url=a.mock + "/v1", api_key="x", max_retries=0), a.calls)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def summary(xs):
    return {"p50_ms": statistics.median(xs) * 1e3, "p90_ms": pct(xs, 90) * 1e3, "min_ms": min(xs) * 1e3}


def measure(a):
    d = Path(a.dir)
    # The calls alone, against a warm server: what any tool pays for the SDK and the socket.
    warm = AsbServer(a.asb_bin, d / "asb.jsonl", "none", ["--allow-repeats", "cycle"]).start()
    calls(openai.OpenAI(base_url=warm.openai_base_url, api_key="x", max_retries=0), a.calls)
    base = []
    for _ in range(a.rounds):
        # A test makes its own client, as each round below does.
        t = time.perf_counter()
        calls(openai.OpenAI(base_url=warm.openai_base_url, api_key="x", max_retries=0), a.calls)
        base.append(time.perf_counter() - t)
    warm.stop()
    warm.cleanup()
    calls_cost = statistics.median(base)

    rows = {"asb": {"start": [], "first": [], "stop": [], "total": []},
            "vcrpy": {"start": [], "first": [], "stop": [], "total": []}}
    for _ in range(a.rounds):
        # asb, as the fixture does it.
        t0 = time.perf_counter()
        s = AsbServer(a.asb_bin, d / "asb.jsonl", "none").start()
        t1 = time.perf_counter()
        c = openai.OpenAI(base_url=s.openai_base_url, api_key="x", max_retries=0)
        calls(c, 1)
        t2 = time.perf_counter()
        calls(c, a.calls - 1, first=1)
        t3 = time.perf_counter()
        s.stop()
        t4 = time.perf_counter()
        s.cleanup()
        for k, v in (("start", t1 - t0), ("first", t2 - t1), ("stop", t4 - t3), ("total", t4 - t0)):
            rows["asb"][k].append(v)
        # vcrpy, as its decorator does it.
        t0 = time.perf_counter()
        cm = vcr.use_cassette(str(d / "vcr.yaml"), record_mode="none", allow_playback_repeats=False)
        cm.__enter__()
        t1 = time.perf_counter()
        c = openai.OpenAI(base_url=a.mock + "/v1", api_key="x", max_retries=0)  # as recorded; vcrpy answers it
        calls(c, 1)
        t2 = time.perf_counter()
        calls(c, a.calls - 1, first=1)
        t3 = time.perf_counter()
        cm.__exit__(None, None, None)
        t4 = time.perf_counter()
        for k, v in (("start", t1 - t0), ("first", t2 - t1), ("stop", t4 - t3), ("total", t4 - t0)):
            rows["vcrpy"][k].append(v)
    out = {"rounds": a.rounds, "calls": a.calls, "warm_calls_ms": calls_cost * 1e3,
           "asb_cassette_bytes": (d / "asb.jsonl").stat().st_size, "vcr_cassette_bytes": (d / "vcr.yaml").stat().st_size}
    for tool, r in rows.items():
        out[tool] = {k: summary(v) for k, v in r.items()}
        out[tool]["overhead"] = summary([t - calls_cost for t in r["total"]])
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["record", "measure"])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--mock")
    ap.add_argument("--asb-bin", default=os.environ.get("ASB_BIN", "asb"))
    a = ap.parse_args()
    record(a) if a.what == "record" else measure(a)


if __name__ == "__main__":
    sys.exit(main())

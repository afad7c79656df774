"""The Python side of the serve benchmark (bench/serve.sh): AgentTape 0.1.8 replaying its
cassette in-process, the way its users run it (the OpenAI SDK patched by agenttape in
mode="none"), and the same OpenAI SDK calling `asb serve` over loopback.

Both replay the calls of an asb recording (each line's request.body, in seq order, passed
as the keyword arguments of `client.chat.completions.create`: they are exactly the kwargs
the calls were made with when gen_session.py recorded them through both tools).

  python agenttape_bench.py latency     --cassette C.yaml --recording R.jsonl [--skip S] [--count N] [--warmup W]
  python agenttape_bench.py sdk-latency --base-url URL    --recording R.jsonl [--skip S] [--count N] [--warmup W]
  python agenttape_bench.py load        --cassette C.yaml --recording R.jsonl

load: a fresh process opens the cassette (use_cassette(...).__enter__: read, parse YAML,
inline assets, index) and replays the first call (time to first answer), then replays every
other call; peak memory is VmHWM of this process (the imports' own share reported apart).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time


def status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return -1


def requests(path: str, skip: int, count: int | None) -> list[str]:
    calls = []
    with open(path) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                # Kept as JSON text (parsed just before each call, outside the timing) so the
                # replayed requests weigh little in this process's peak memory.
                calls.append((d["seq"], json.dumps(d["request"]["body"])))
                del d
    calls.sort(key=lambda c: c[0])
    calls = [c[1] for c in calls[skip:]]
    return calls if count is None else calls[:count]


def summary(samples_ns: list[int]) -> dict:
    v = sorted(samples_ns)

    def pct(p: float) -> float:
        rank = p / 100 * (len(v) - 1)
        lo, hi = int(rank), min(int(rank) + 1, len(v) - 1)
        return (v[lo] + (v[hi] - v[lo]) * (rank - lo)) / 1000

    return {"timed": len(v), "latency_us": {"p50": pct(50), "p90": pct(90), "p99": pct(99),
                                            "p999": pct(99.9), "max": v[-1] / 1000,
                                            "mean": sum(v) / len(v) / 1000}}


def replay_loop(client, calls: list[str], warmup: int) -> tuple[list[int], int]:
    samples, answered = [], 0
    create = client.chat.completions.create
    for i, body in enumerate(calls):
        kwargs = json.loads(body)
        t0 = time.perf_counter_ns()
        resp = create(**kwargs)
        dt = time.perf_counter_ns() - t0
        answered += bool(resp.choices)
        if i >= warmup:
            samples.append(dt)
    return samples, answered


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["latency", "sdk-latency", "load"])
    ap.add_argument("--cassette")
    ap.add_argument("--base-url")
    ap.add_argument("--recording", required=True)
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--count", type=int)
    ap.add_argument("--warmup", type=int, default=0)
    a = ap.parse_args()

    calls = requests(a.recording, a.skip, a.count)
    t_imp = time.perf_counter()
    import openai  # noqa: PLC0415

    if a.what == "sdk-latency":
        client = openai.OpenAI(base_url=a.base_url, api_key="sk-bench", max_retries=0)
        samples, answered = replay_loop(client, calls, a.warmup)
        print(json.dumps({"ok": answered, **summary(samples), "openai": openai.__version__}))
        return

    import agenttape  # noqa: PLC0415
    from agenttape import yaml_io  # noqa: PLC0415

    # Replay never touches the network; the URL only has to be well-formed.
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-bench", max_retries=0)
    import_s = time.perf_counter() - t_imp
    cassette = os.path.abspath(a.cassette)
    if a.what == "latency":
        with agenttape.use_cassette(cassette, mode="none"):
            samples, answered = replay_loop(client, calls, a.warmup)
        print(json.dumps({"ok": answered, **summary(samples), "agenttape": agenttape.__version__,
                          "pyyaml": yaml_io.using_pyyaml()}))
        return

    # load
    base_hwm = status_kb("VmHWM:")
    first_kwargs = json.loads(calls[0])
    t0 = time.perf_counter()
    session = agenttape.use_cassette(cassette, mode="none")
    session.__enter__()
    t_open = time.perf_counter()
    first = client.chat.completions.create(**first_kwargs)
    t_first = time.perf_counter()
    hwm_first = status_kb("VmHWM:")
    rest, answered = replay_loop(client, calls[1:], 0)
    session.__exit__(None, None, None)
    size = os.path.getsize(cassette)
    assets = os.path.splitext(cassette)[0] + ".assets"
    asset_bytes = sum(e.stat().st_size for e in os.scandir(assets)) if os.path.isdir(assets) else 0
    print(json.dumps({
        "ok": answered + bool(first.choices), "calls": len(calls), "import_s": import_s,
        "open_ms": (t_open - t0) * 1e3, "first_call_ms": (t_first - t_open) * 1e3,
        "open_to_first_answer_ms": (t_first - t0) * 1e3, "rest_seconds": sum(rest) / 1e9,
        "vm_hwm_kb_before_open": base_hwm, "vm_hwm_kb_after_first": hwm_first,
        "vm_hwm_kb": status_kb("VmHWM:"), "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "cassette_bytes": size, "assets_bytes": asset_bytes, "pyyaml": yaml_io.using_pyyaml(),
        **{"rest_" + k: v for k, v in summary(rest).items()},
    }))


if __name__ == "__main__":
    sys.exit(main())

"""Derives the serve benchmark's bulk recordings from recordings made by the real tools
(gen_session.py), so every line keeps asb record's exact shape.

  python3 expand.py many --template small.jsonl --out many.jsonl --calls 160000
      160,000 distinct small calls: line 1 of the template with its user message, answer id
      and seq changed per call (serve consumes each recorded call once, so a throughput run
      needs as many distinct calls as it sends).
  python3 expand.py dir --source session.jsonl --lines 5 --out DIR --n 1000
      a directory of N recordings, each the first LINES calls of a recorded agent thread
      (one file, hard-linked N times: same bytes, N names, N separate cassettes for serve).
"""

from __future__ import annotations

import argparse
import json
import os


def many(template: str, out: str, calls: int) -> None:
    with open(template) as f:
        t = json.loads(f.readline())
    text = t["request"]["body"]["messages"][0]["content"]
    with open(out, "w") as f:
        for i in range(calls):
            c = f"{text} / bulk call {i}"
            t["seq"] = i + 1
            t["messages"][0]["content"] = c
            t["request"]["body"]["messages"][0]["content"] = c
            t["response"]["body"]["id"] = f"chatcmpl-bulk-{i}"
            f.write(json.dumps(t, separators=(",", ":"), ensure_ascii=False) + "\n")


def directory(source: str, lines: int, out: str, n: int) -> None:
    os.makedirs(out, exist_ok=True)
    with open(source) as f:
        rows = sorted((json.loads(line) for line in f if line.strip()), key=lambda d: d["seq"])
    first = os.path.join(out, "r0000.jsonl")
    with open(first, "w") as f:
        for d in rows[:lines]:
            f.write(json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n")
    for i in range(1, n):
        os.link(first, os.path.join(out, f"r{i:04d}.jsonl"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["many", "dir"])
    ap.add_argument("--template")
    ap.add_argument("--source")
    ap.add_argument("--out", required=True)
    ap.add_argument("--calls", type=int, default=160_000)
    ap.add_argument("--lines", type=int, default=5)
    ap.add_argument("--n", type=int, default=1000)
    a = ap.parse_args()
    if a.what == "many":
        many(a.template, a.out, a.calls)
    else:
        directory(a.source, a.lines, a.out, a.n)


if __name__ == "__main__":
    main()

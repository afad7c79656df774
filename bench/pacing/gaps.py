"""Writes a recording (asb's JSONL) of one agent thread making CALLS calls 1 s apart, each
recorded as lasting 5 ms, so `--think-time recorded` waits ≈ 0.995 s between a session's
calls.

    python gaps.py FILE CALLS"""

import json
import sys

path, calls = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for n in range(calls):
        body = {"model": "rec", "messages": [{"role": "user", "content": f"step {n}"}], "max_tokens": 8, "stream": True}
        f.write(json.dumps({"format_version": 1, "seq": n + 1, "model": "rec", "start_offset_ms": n * 1000,
                            "thread_id": "m", "timing": {"end_ms": 5},
                            "request": {"method": "POST", "path": "/v1/chat/completions", "headers": {}, "body": body}}) + "\n")

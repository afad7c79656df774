"""Makes the serve benchmark's recordings by really calling an endpoint: the OpenAI SDK,
patched by AgentTape in mode="record", sends its calls to `asb record` in front of
`asb mock --zero-delay`. Each call is therefore written twice, by the tools themselves:
once by asb record (our JSONL, format v1) and once by AgentTape (its YAML cassette +
`.assets/` sidecar), so both hold the very same calls.

  python gen_session.py small   --base-url URL --cassette OUT.yaml --calls N
  python gen_session.py session --base-url URL --cassette OUT.yaml --recording REC.jsonl --target-mb 50

small:   N tiny non-streamed chat calls ("Say hello #i", max_tokens 16).
session: Claude-Code-like agent threads until the asb recording reaches the target size:
         a ~16 KB system prompt, 16 tool definitions (~30 KB), then turns that each append
         the model's answer and a tool result (file reads, command output, searches), so the
         conversation grows call after call; a thread ends after 40 turns and a new one
         starts (a new task or a sub-agent), as Claude Code sessions do.
Non-streamed calls only: AgentTape cannot replay streams.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import agenttape
import openai

WORDS = (
    "the a to of and file test code function return value error tool call agent model user "
    "request response stream token cache prompt system message content path line read write "
    "edit search result check build run fix update create delete module import class type "
    "string number list map config server client port timeout retry session thread state "
    "should must never always when before after only if then else use prefer avoid instead"
).split()


def prose(rng: random.Random, n_bytes: int) -> str:
    out, size = [], 0
    while size < n_bytes:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 22)))
        sentence = sentence[0].upper() + sentence[1:] + "."
        out.append(sentence)
        size += len(sentence) + 1
        if rng.random() < 0.15:
            out.append("\n\n")
    return " ".join(out)


def code(rng: random.Random, n_bytes: int) -> str:
    lines, size, n = [], 0, 1
    while size < n_bytes:
        kind = rng.random()
        ident = f"{rng.choice(WORDS)}_{rng.randint(1, 99)}"
        if kind < 0.3:
            body = f"const {ident} = {rng.choice(WORDS)}({rng.choice(WORDS)}, {rng.randint(0, 999)});"
        elif kind < 0.5:
            body = f"  if ({ident} > {rng.randint(0, 64)}) {{ return {rng.choice(WORDS)}; }}"
        elif kind < 0.7:
            body = f"function {ident}({rng.choice(WORDS)}, {rng.choice(WORDS)}) {{"
        elif kind < 0.85:
            body = f"  // {prose(rng, 40).strip()}"
        else:
            body = "}"
        line = f"{n:6d}\t{body}"
        lines.append(line)
        size += len(line) + 1
        n += 1
    return "\n".join(lines)


TOOL_NAMES = [
    "Task", "Bash", "Glob", "Grep", "LS", "ExitPlanMode", "Read", "Edit", "MultiEdit", "Write",
    "NotebookEdit", "WebFetch", "TodoWrite", "WebSearch", "BashOutput", "KillShell",
]


def tools(rng: random.Random) -> list[dict]:
    out = []
    for name in TOOL_NAMES:
        props = {}
        for p in range(rng.randint(1, 5)):
            props[f"{rng.choice(WORDS)}_{p}"] = {"type": rng.choice(["string", "number", "boolean"]),
                                                 "description": prose(rng, rng.randint(60, 300)).strip()}
        out.append({"type": "function", "function": {
            "name": name,
            "description": prose(rng, rng.randint(600, 3400)),
            "parameters": {"type": "object", "properties": props, "required": sorted(props)[:1],
                           "additionalProperties": False, "$schema": "http://json-schema.org/draft-07/schema#"},
        }})
    return out


def tool_result(rng: random.Random, name: str) -> str:
    if name in ("Read", "Grep"):
        return code(rng, rng.randint(1500, 9000))
    if name in ("Bash", "BashOutput", "WebFetch", "WebSearch", "Task"):
        return prose(rng, rng.randint(300, 3000))
    return f"The file was updated. {prose(rng, 120)}"


def small(client: openai.OpenAI, n: int) -> None:
    for i in range(n):
        client.chat.completions.create(model="gpt-4o-mini", max_tokens=16,
                                       messages=[{"role": "user", "content": f"Say hello #{i}"}])


def session(client: openai.OpenAI, recording: str, target_bytes: int) -> int:
    rng = random.Random(7)
    system = ("You are an interactive CLI tool that helps users with software engineering tasks. "
              "Today's date: 2026-11-24.\n\n" + prose(rng, 16_000))
    tool_defs = tools(rng)
    calls, thread = 0, 0
    while True:
        thread += 1
        task = f"<system-reminder>{prose(rng, 2000)}</system-reminder>\nTask {thread}: {prose(rng, 600)}"
        messages: list[dict] = [{"role": "system", "content": system}, {"role": "user", "content": task}]
        for _turn in range(40):
            resp = client.chat.completions.create(model="claude-sonnet-4-5", messages=messages,
                                                  tools=tool_defs, max_tokens=1024, temperature=0)
            calls += 1
            msg = resp.choices[0].message
            if msg.tool_calls:
                messages.append({"role": "assistant", "content": msg.content, "tool_calls": [
                    {"id": tc.id, "type": "function",
                     "function": {"name": tc.function.name, "arguments": tc.function.arguments}}
                    for tc in msg.tool_calls]})
                for tc in msg.tool_calls:
                    messages.append({"role": "tool", "tool_call_id": tc.id,
                                     "content": tool_result(rng, tc.function.name)})
            else:
                messages.append({"role": "assistant", "content": msg.content})
                messages.append({"role": "user", "content": prose(rng, rng.randint(100, 800))})
            # asb record writes each line when the call ends; give its writer a moment.
            if calls % 10 == 0:
                time.sleep(0.05)
                if os.path.exists(recording) and os.path.getsize(recording) >= target_bytes:
                    return calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["small", "session"])
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--cassette", required=True)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--recording")
    ap.add_argument("--target-mb", type=float, default=50)
    a = ap.parse_args()
    client = openai.OpenAI(base_url=a.base_url, api_key="sk-bench", max_retries=0)
    t0 = time.perf_counter()
    with agenttape.use_cassette(os.path.abspath(a.cassette), mode="record"):
        if a.what == "small":
            small(client, a.calls)
            n = a.calls
        else:
            n = session(client, a.recording, int(a.target_mb * 1_000_000))
    print(f"gen_session {a.what}: {n} calls recorded by AgentTape and asb record in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

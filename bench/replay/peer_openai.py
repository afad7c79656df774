"""The peer client of bench/replay.sh: the OpenAI Python SDK's async client streaming the
same requests as `asb replay`, timing TTFT the way a careful Python benchmark would
(perf_counter just before the call, first chunk with content) and counting SSE chunks.

    python peer_openai.py URL N CONCURRENCY MAX_TOKENS > per-request.jsonl
Prints one JSON line per request: request_id (the server's x-request-id), ttft_ms, events,
then a last line {"summary": …} with the wall time."""

import asyncio
import json
import sys
import time

from openai import AsyncOpenAI

PROMPT = [{"role": "user", "content": "Write a long essay."}]


async def one(client, max_tokens, out):
    t0 = time.perf_counter()
    stream = await client.chat.completions.create(
        model="m", messages=PROMPT, max_tokens=max_tokens, stream=True, stream_options={"include_usage": True}
    )
    ttft, events = None, 0
    async for chunk in stream:
        events += 1
        if ttft is None and chunk.choices and chunk.choices[0].delta.content:
            ttft = (time.perf_counter() - t0) * 1000
    out.append({"request_id": stream.response.headers.get("x-request-id"), "ttft_ms": ttft, "events": events})


async def main():
    url, n, concurrency, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    client = AsyncOpenAI(base_url=url + "/v1", api_key="bench", max_retries=0, timeout=600)
    out, queue = [], list(range(n))

    async def worker():
        while queue:
            queue.pop()
            await one(client, max_tokens, out)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    for r in out:
        print(json.dumps(r))
    print(json.dumps({"summary": {"wall_s": wall, "events": sum(r["events"] for r in out)}}))


asyncio.run(main())

"""Many concurrent streams through the real async SDK clients: counts agree with the
truth log under load, and the batching model shares the decode rate."""

import asyncio
import time

import anthropic
import openai

MSG = [{"role": "user", "content": "stream please"}]


async def one_openai_stream(c, i):
    t0 = time.perf_counter()
    first = None
    n = 0
    usage = None
    stream = await c.chat.completions.create(
        model="m", messages=MSG + [{"role": "user", "content": f"#{i}"}], max_tokens=32, stream=True,
        stream_options={"include_usage": True})
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter() - t0
            n += 1
        usage = chunk.usage or usage
    return first, n, usage


def test_64_concurrent_openai_streams_match_the_truth(start_mock):
    mock = start_mock("--decode-tps", "400", "--base-latency-ms", "5")

    async def main():
        c = openai.AsyncOpenAI(base_url=mock.url + "/v1", api_key="x", max_retries=0)
        return await asyncio.gather(*(one_openai_stream(c, i) for i in range(64)))

    results = asyncio.run(main())
    truth = mock.truth(64)
    assert len(truth) == 64
    assert all(t["outcome"] == "completed" for t in truth)
    assert sorted(n for _, n, _ in results) == sorted(t["sent_tokens"] for t in truth) == [32] * 64
    assert all(u.completion_tokens == 32 for _, _, u in results)
    # The client's TTFT includes the trip there and back, so it can never be below the truth.
    client_ttfts = sorted(f for f, _, _ in results)
    truth_ttfts = sorted(t["ttft_ms"] / 1000 for t in truth)
    assert all(c >= t for c, t in zip(client_ttfts, truth_ttfts))


def mean_itl_ms(records):
    gaps = []
    for r in records:
        times = r["token_times_ms"]
        gaps += [b - a for a, b in zip(times, times[1:])]
    return sum(gaps) / len(gaps)


def test_batching_shares_the_decode_rate(start_mock):
    args = ("--decode-tps", "100", "--jitter", "0", "--base-latency-ms", "0", "--batch-size", "4")

    async def run(mock, n):
        c = anthropic.AsyncAnthropic(base_url=mock.url, api_key="x", max_retries=0)

        async def one():
            async with c.messages.stream(model="m", max_tokens=20, messages=MSG) as s:
                return await s.get_final_message()

        return await asyncio.gather(*(one() for _ in range(n)))

    alone = start_mock(*args)
    asyncio.run(run(alone, 1))
    crowded = start_mock(*args)
    finals = asyncio.run(run(crowded, 16))
    assert all(m.usage.output_tokens == 20 for m in finals)
    single = mean_itl_ms(alone.truth(1))
    shared = mean_itl_ms(crowded.truth(16))
    # 16 streams on a batch of 4: each gets a quarter of the rate (ITL ×4, allow for ramp-up).
    assert 9 <= single <= 15
    assert shared > 2.5 * single

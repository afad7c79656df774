"""`asb mock` driven by the real `anthropic` SDK: messages, streams, tools, thinking,
count_tokens, the prefix-cache model and the provider's error shapes."""

import httpx
import anthropic
import pytest

MSG = [{"role": "user", "content": "Explain prefix caching in one line."}]
TOOLS = [{
    "name": "Read",
    "description": "Read a file",
    "input_schema": {
        "type": "object",
        "properties": {"file_path": {"type": "string"}, "limit": {"type": "integer", "minimum": 1},
                       "mode": {"type": "string", "enum": ["text", "bytes"]}},
        "required": ["file_path"],
    },
}]


def client(mock):
    return anthropic.Anthropic(base_url=mock.url, api_key="unused", max_retries=0)


def test_non_streaming_message(fast_mock):
    m = client(fast_mock).messages.create(model="claude-x", max_tokens=9, messages=MSG, system="Be brief.")
    assert m.type == "message" and m.role == "assistant" and m.model == "claude-x"
    assert m.stop_reason == "max_tokens"
    assert m.content[0].type == "text" and m.content[0].text
    assert m.usage.output_tokens == 9
    truth = fast_mock.truth(1)[0]
    total_input = m.usage.input_tokens + m.usage.cache_read_input_tokens + m.usage.cache_creation_input_tokens
    assert truth["prompt_tokens"] == total_input


def test_stream_events_and_final_message(fast_mock):
    c = client(fast_mock)
    with c.messages.stream(model="m", max_tokens=15, messages=MSG) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start"
    assert events[-1] == "message_stop"
    assert events.count("content_block_start") == 1 and events.count("content_block_stop") == 1
    assert final.usage.output_tokens == 15 and final.stop_reason == "max_tokens"
    assert final.content[0].text == c.messages.create(model="m", max_tokens=15, messages=MSG).content[0].text


def test_raw_stream_order_has_ping_and_cumulative_usage(fast_mock):
    raw = httpx.post(fast_mock.url + "/v1/messages", headers={"anthropic-version": "2023-06-01"},
                     json={"model": "m", "max_tokens": 3, "messages": MSG, "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    names = [l.split(": ", 1)[1] for l in raw.text.splitlines() if l.startswith("event: ")]
    assert names == ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_delta", "content_block_stop", "message_delta", "message_stop"]


@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_with_input_json_delta(fast_mock, stream):
    c = client(fast_mock)
    kw = dict(model="m", max_tokens=300, messages=MSG, tools=TOOLS, tool_choice={"type": "any"})
    if stream:
        with c.messages.stream(**kw) as s:
            deltas = [e for e in s if e.type == "content_block_delta"]
            m = s.get_final_message()
        assert deltas and all(d.delta.type == "input_json_delta" for d in deltas)
    else:
        m = c.messages.create(**kw)
    assert m.stop_reason == "tool_use"
    [block] = m.content
    assert block.type == "tool_use" and block.name == "Read" and block.id
    assert isinstance(block.input["file_path"], str)
    assert block.input["mode"] in ("text", "bytes")
    assert block.input["limit"] >= 1


def test_named_tool_and_tool_result_round_trip(fast_mock):
    c = client(fast_mock)
    first = c.messages.create(model="m", max_tokens=300, messages=MSG, tools=TOOLS,
                              tool_choice={"type": "tool", "name": "Read"})
    tool_use = first.content[0]
    follow = MSG + [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "file text"}]},
    ]
    second = c.messages.create(model="m", max_tokens=5, messages=follow, tools=TOOLS)
    assert second.stop_reason == "max_tokens" and second.content[0].type == "text"


def test_thinking_block_with_signature(start_mock):
    mock = start_mock("--zero-delay", "--thinking-tokens", "6")
    c = client(mock)
    with c.messages.stream(model="m", max_tokens=20, messages=MSG,
                           thinking={"type": "enabled", "budget_tokens": 1024}) as s:
        kinds = [e.delta.type for e in s if e.type == "content_block_delta"]
        m = s.get_final_message()
    assert kinds.count("thinking_delta") == 6 and kinds.count("signature_delta") == 1
    assert kinds.count("text_delta") == 14
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].signature


def test_count_tokens_matches_usage(fast_mock):
    c = client(fast_mock)
    kw = dict(model="m", messages=MSG, system="You are terse.", tools=TOOLS)
    counted = c.messages.count_tokens(**kw).input_tokens
    u = c.messages.create(max_tokens=1, **kw).usage
    assert counted == u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
    assert counted > 10


def test_prefix_cache_cuts_ttft_on_a_shared_prefix(start_mock):
    # 1000 tokens/s prefill, no base latency and no jitter: TTFT is the uncached prompt.
    mock = start_mock("--jitter", "0", "--base-latency-ms", "0", "--prefill-tps", "1000", "--decode-tps", "inf")
    c = client(mock)
    system = "Shared instructions for every request. " * 150  # ~1,050 tokens
    first = c.messages.create(model="m", max_tokens=2, system=system, messages=[{"role": "user", "content": "one"}])
    second = c.messages.create(model="m", max_tokens=2, system=system, messages=[{"role": "user", "content": "two"}])
    assert first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation_input_tokens > 1000
    assert second.usage.cache_read_input_tokens > 1000
    assert second.usage.input_tokens < 32  # only the tail past the last shared full block
    t1, t2 = mock.truth(2)
    assert t2["cached_tokens"] == second.usage.cache_read_input_tokens
    # The model's own clock: TTFT falls by the prefill time of the cached tokens.
    assert t1["ttft_ms"] > 1000
    assert t2["ttft_ms"] < t1["ttft_ms"] / 10


def test_no_prefix_cache_when_disabled(start_mock):
    mock = start_mock("--zero-delay", "--cache-blocks", "0")
    c = client(mock)
    for _ in range(2):
        u = c.messages.create(model="m", max_tokens=1, system="x " * 200, messages=MSG).usage
        assert u.cache_read_input_tokens == 0 and u.cache_creation_input_tokens == 0


@pytest.mark.parametrize("status,exc", [(429, anthropic.RateLimitError), (500, anthropic.InternalServerError),
                                        (529, anthropic.OverloadedError)])
def test_injected_errors(start_mock, status, exc):
    mock = start_mock("--zero-delay", "--error-rate", "1", "--error-status", str(status))
    with pytest.raises(exc) as e:
        client(mock).messages.create(model="m", max_tokens=5, messages=MSG)
    assert e.value.status_code == status
    assert e.value.body["type"] == "error"


def test_bad_requests_get_anthropic_errors(start_mock):
    mock = start_mock("--zero-delay", "--models", "claude-x", "--context-limit", "50")
    c = client(mock)
    h = {"anthropic-version": "2023-06-01"}
    raw = httpx.post(mock.url + "/v1/messages", headers=h, json={"model": "claude-x", "messages": MSG})
    assert raw.status_code == 400
    assert raw.json()["error"] == {"type": "invalid_request_error", "message": "max_tokens: Field required"}
    raw = httpx.post(mock.url + "/v1/messages", headers=h, content=b'{"model": ')
    assert raw.status_code == 400 and "not valid JSON" in raw.json()["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as e:
        c.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "robot", "content": "x"}])
    assert "messages[0].role" in str(e.value)
    with pytest.raises(anthropic.NotFoundError):
        c.messages.create(model="other", max_tokens=5, messages=MSG)
    with pytest.raises(anthropic.BadRequestError) as e:
        c.messages.create(model="claude-x", max_tokens=100, messages=MSG)
    assert "exceed context limit" in str(e.value)
    assert [m.id for m in c.models.list()] == ["claude-x"]
    raw = httpx.head(mock.url + "/", headers=h)
    assert raw.status_code == 404


def test_stalled_first_token_is_in_the_truth(start_mock):
    mock = start_mock("--zero-delay", "--stall-rate", "1", "--stall-ms", "300")
    client(mock).messages.create(model="m", max_tokens=1, messages=MSG)
    truth = mock.truth(1)[0]
    assert truth["stalled"] is True and truth["ttft_ms"] >= 300

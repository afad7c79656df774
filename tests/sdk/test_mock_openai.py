"""`asb mock` driven by the real `openai` SDK: every answer must parse, and every count
must agree with the mock's truth log."""

import json

import httpx
import openai
import pytest

MSG = [{"role": "user", "content": "Write a haiku about caches."}]
BASH_TOOL = {
    "type": "function",
    "function": {
        "name": "Bash",
        "description": "Run a command",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}, "timeout": {"type": "integer", "minimum": 1}},
            "required": ["command"],
        },
    },
}


def client(mock, **kw):
    return openai.OpenAI(base_url=mock.url + "/v1", api_key="unused", max_retries=0, **kw)


def test_non_streaming_answer_and_usage(fast_mock):
    r = client(fast_mock).chat.completions.create(model="any-model", messages=MSG, max_tokens=12)
    assert r.object == "chat.completion"
    assert r.model == "any-model"
    assert r.choices[0].finish_reason == "length"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content
    assert r.usage.completion_tokens == 12
    truth = fast_mock.truth(1)[0]
    assert truth["prompt_tokens"] == r.usage.prompt_tokens
    assert truth["output_tokens"] == truth["sent_tokens"] == 12
    assert truth["outcome"] == "completed" and truth["stream"] is False


def test_streaming_with_usage_chunk(fast_mock):
    stream = client(fast_mock).chat.completions.create(
        model="m", messages=MSG, max_tokens=20, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    usage_chunks = [c for c in chunks if c.usage]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1] and chunks[-1].choices == []
    assert usage_chunks[0].usage.completion_tokens == 20
    # One chunk per token: the role chunk, 20 content chunks, the finish chunk, the usage chunk.
    assert len(chunks) == 23
    # Same request, same seed: same text (deterministic output).
    again = client(fast_mock).chat.completions.create(model="m", messages=MSG, max_tokens=20)
    assert again.choices[0].message.content == content
    truth = fast_mock.truth(2)
    assert len(truth[0]["token_times_ms"]) == 20


def test_streaming_without_include_usage_has_no_usage(fast_mock):
    chunks = list(client(fast_mock).chat.completions.create(model="m", messages=MSG, max_tokens=3, stream=True))
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "length"


def test_answer_tokens_and_stop_sequence(start_mock):
    mock = start_mock("--zero-delay", "--answer-tokens", "5")
    c = client(mock)
    r = c.chat.completions.create(model="m", messages=MSG, max_tokens=50)
    assert (r.choices[0].finish_reason, r.usage.completion_tokens) == ("stop", 5)
    full = c.chat.completions.create(model="m", messages=MSG, max_tokens=3).choices[0].message.content
    stop_word = full.split(" ")[1]
    r = c.chat.completions.create(model="m", messages=MSG, max_tokens=50, stop=[" " + stop_word])
    assert r.choices[0].finish_reason == "stop"
    assert (" " + stop_word) not in r.choices[0].message.content


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_match_the_schema(fast_mock, stream):
    c = client(fast_mock)
    kw = dict(model="m", messages=MSG, max_tokens=200, tools=[BASH_TOOL], tool_choice="required")
    if stream:
        calls = {}
        finish = None
        for chunk in c.chat.completions.create(stream=True, **kw):
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                for d in choice.delta.tool_calls or []:
                    call = calls.setdefault(d.index, {"id": None, "name": None, "arguments": ""})
                    call["id"] = d.id or call["id"]
                    call["name"] = (d.function.name if d.function else None) or call["name"]
                    call["arguments"] += (d.function.arguments or "") if d.function else ""
        assert finish == "tool_calls"
        [call] = calls.values()
    else:
        r = c.chat.completions.create(**kw)
        assert r.choices[0].finish_reason == "tool_calls"
        [tc] = r.choices[0].message.tool_calls
        call = {"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments}
    assert call["name"] == "Bash" and call["id"].startswith("call_")
    args = json.loads(call["arguments"])
    assert isinstance(args["command"], str)
    assert isinstance(args["timeout"], int) and args["timeout"] >= 1
    assert fast_mock.truth(1)[0]["tool_call"] == "Bash"


def test_tool_choice_none_and_rate(start_mock):
    mock = start_mock("--zero-delay", "--tool-call-rate", "1")
    c = client(mock)
    r = c.chat.completions.create(model="m", messages=MSG, max_tokens=50, tools=[BASH_TOOL])
    assert r.choices[0].message.tool_calls
    r = c.chat.completions.create(model="m", messages=MSG, max_tokens=5, tools=[BASH_TOOL], tool_choice="none")
    assert not r.choices[0].message.tool_calls and r.choices[0].message.content


def test_reasoning_tokens_come_first(start_mock):
    mock = start_mock("--zero-delay", "--thinking-tokens", "4")
    chunks = list(client(mock).chat.completions.create(
        model="m", messages=MSG, max_tokens=10, stream=True, reasoning_effort="low",
        stream_options={"include_usage": True}))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = [d for d in deltas if getattr(d, "reasoning_content", None)]
    assert len(reasoning) == 4
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 4


def test_models_list_and_model_restriction(start_mock):
    mock = start_mock("--zero-delay", "--models", "alpha,beta")
    c = client(mock)
    assert [m.id for m in c.models.list()] == ["alpha", "beta"]
    assert c.chat.completions.create(model="beta", messages=MSG, max_tokens=1).model == "beta"
    with pytest.raises(openai.NotFoundError) as e:
        c.chat.completions.create(model="gamma", messages=MSG, max_tokens=1)
    assert e.value.code == "model_not_found" and "gamma" in e.value.message


def test_bad_requests_get_openai_errors(fast_mock):
    c = client(fast_mock)
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="m", messages=[{"content": "no role"}])
    assert "messages[0].role" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="m", messages=MSG, max_tokens="ten")
    assert "max_tokens" in e.value.message
    raw = httpx.post(fast_mock.url + "/v1/chat/completions", content=b"{not json")
    assert raw.status_code == 400
    assert "not valid JSON" in raw.json()["error"]["message"]
    raw = httpx.post(fast_mock.url + "/v1/chat/completions", content=b"[1, 2]")
    assert raw.status_code == 400 and "JSON object" in raw.json()["error"]["message"]
    raw = httpx.get(fast_mock.url + "/v1/chat/completions")
    assert raw.status_code == 405 and raw.json()["error"]["type"] == "invalid_request_error"
    raw = httpx.post(fast_mock.url + "/v2/unknown", json={})
    assert raw.status_code == 404 and "no such endpoint" in raw.json()["error"]["message"]
    # The mock is still healthy after all of that.
    assert c.chat.completions.create(model="m", messages=MSG, max_tokens=1).usage.completion_tokens == 1


def test_context_limit(start_mock):
    mock = start_mock("--zero-delay", "--context-limit", "100")
    with pytest.raises(openai.BadRequestError) as e:
        client(mock).chat.completions.create(model="m", messages=MSG, max_tokens=200)
    assert e.value.code == "context_length_exceeded"
    assert "maximum context length is 100 tokens" in e.value.message


@pytest.mark.parametrize("status,exc", [(429, openai.RateLimitError), (500, openai.InternalServerError),
                                        (529, openai.InternalServerError)])
def test_injected_errors(start_mock, status, exc):
    mock = start_mock("--zero-delay", "--error-rate", "1", "--error-status", str(status))
    with pytest.raises(exc) as e:
        client(mock).chat.completions.create(model="m", messages=MSG, max_tokens=5)
    assert e.value.status_code == status
    assert "injected by asb mock" in e.value.message
    assert mock.truth(1)[0]["outcome"] == "error"


def test_injected_cut_breaks_the_stream_mid_way(start_mock):
    mock = start_mock("--zero-delay", "--cut-rate", "1")
    received = []
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        for chunk in client(mock).chat.completions.create(model="m", messages=MSG, max_tokens=40, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert len(received) == 20
    truth = mock.truth(1)[0]
    assert truth["outcome"] == "cut" and truth["sent_tokens"] == 20


def test_client_disconnect_is_logged(start_mock):
    mock = start_mock("--decode-tps", "50", "--jitter", "0")
    stream = client(mock).chat.completions.create(model="m", messages=MSG, max_tokens=1000, stream=True)
    for i, _ in enumerate(stream):
        if i == 3:
            break
    stream.close()
    truth = mock.truth(1, timeout=10)[0]
    assert truth["outcome"] == "client_disconnected"
    assert 0 < truth["sent_tokens"] < 1000

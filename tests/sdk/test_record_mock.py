"""`asb record` between the real SDKs and `asb mock`: what clients get, and what the
recording keeps, for every route, every failure, and Ctrl+C."""

import json
import select
import threading
import time

import anthropic
import httpx
import openai
import pytest

from recorder import raw_bytes

MSG = [{"role": "user", "content": "List the files."}]
ANTHROPIC_TOOLS = [{
    "name": "Bash", "description": "Run a shell command",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
}]
OPENAI_TOOLS = [{"type": "function", "function": {
    "name": "Bash", "parameters": ANTHROPIC_TOOLS[0]["input_schema"]}}]
KEY = "sk-asb-test-SECRET-0123456789"


def oai(rec):
    return openai.OpenAI(base_url=rec.url + "/v1", api_key=KEY, max_retries=0)


def ant(rec):
    return anthropic.Anthropic(base_url=rec.url, api_key=KEY, max_retries=0)


def test_openai_passthrough_is_byte_exact_and_fully_recorded(fast_mock, start_record):
    rec = start_record(fast_mock.url)
    body = {"model": "client-model", "messages": MSG, "max_tokens": 7, "stream": True,
            "stream_options": {"include_usage": True}, "tools": OPENAI_TOOLS, "temperature": 0.3}
    with httpx.stream("POST", rec.url + "/v1/chat/completions", json=body) as r:
        received = b"".join(r.iter_raw())
        assert r.headers["content-type"].startswith("text/event-stream")
    r2 = oai(rec).chat.completions.create(model="client-model", messages=MSG, max_tokens=5)
    assert r2.usage.completion_tokens == 5
    line, line2 = rec.lines(2)
    assert line["format_version"] == 1 and line["outcome"] == "completed"
    assert raw_bytes(line).encode() == received
    assert line["request"]["body"] == body
    assert line["request"]["method"] == "POST" and line["request"]["path"] == "/v1/chat/completions"
    # asb's fields, with asb's meanings.
    assert (line["seq"], line["model"], line["max_tokens"], line["temperature"], line["stream"]) == (1, "client-model", 7, 0.3, True)
    assert line["source_api"] == "openai" and line["status_code"] == 200
    assert line["messages"] == MSG
    assert line["completion_tokens"] == 7 and line["prompt_tokens"] == line["usage"]["input_tokens"] > 0
    assert line["ttft_ms"] > 0 and line["total_time_s"] >= 0
    assert len(line["result"]["text"]) == line["response_length"] > 0
    assert line["timing"]["content_events"] == 7
    # Non-streamed: the body is kept as JSON.
    assert line2["stream"] is False and line2["response"]["body"]["usage"]["completion_tokens"] == 5
    assert line2["result"]["text"] == r2.choices[0].message.content


def test_the_request_body_is_kept_as_the_client_spelled_it(fast_mock, start_record):
    rec = start_record(fast_mock.url)
    spelled = ('{"model": "m",  "messages": [{"role": "user", "content": "hi"}], '
               '"max_tokens": 3, "top_p": 1e-05, "seed": 123456789012345678901234567890}')
    pretty = json.dumps({"model": "m", "messages": MSG, "max_tokens": 3}, indent=2)
    for body in (spelled, pretty):
        r = httpx.post(rec.url + "/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
    _, second = rec.lines(2)
    raw = rec.path.read_bytes()
    assert b'"body":' + spelled.encode() + b'},"response"' in raw
    # Line breaks cannot sit inside a JSONL line: that body is re-written compactly.
    assert second["request"]["body"] == json.loads(pretty) and len(raw.splitlines()) == 2


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_client_translated_to_openai_upstream(fast_mock, start_record, stream):
    rec = start_record(fast_mock.url, model="upstream-model")
    c = ant(rec)
    kw = dict(model="claude-x", max_tokens=12, system="Be terse.", messages=MSG)
    if stream:
        with c.messages.stream(**kw) as s:
            kinds = [e.type for e in s]
            m = s.get_final_message()
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    else:
        m = c.messages.create(**kw)
    assert m.content[0].type == "text" and m.content[0].text
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 12
    [line] = rec.lines(1)
    assert line["source_api"] == "anthropic" and line["model"] == "upstream-model"
    assert line["outcome"] == "completed"
    up = line["upstream"]
    assert up["request"]["path"] == "/v1/chat/completions"
    assert up["request"]["body"]["model"] == "upstream-model"
    assert up["request"]["body"]["messages"][0] == {"role": "system", "content": "Be terse."}
    assert line["messages"] == up["request"]["body"]["messages"]
    assert line["request"]["body"]["model"] == "claude-x"
    assert line["result"]["text"] == m.content[0].text
    assert line["completion_tokens"] == 12
    if stream:
        # What the client received is recorded too, byte for byte.
        client_events = [e["raw"] for e in line["response"]["events"]]
        assert client_events[0].startswith("event: message_start")
        assert up["response"]["events"][-1]["raw"].strip() == "data: [DONE]"


def test_anthropic_passthrough_is_byte_exact(start_mock, start_record):
    mock = start_mock("--zero-delay")
    rec = start_record(mock.url, "--upstream-api", "anthropic")
    body = {"model": "claude-x", "max_tokens": 6, "messages": MSG, "stream": True}
    headers = {"anthropic-version": "2023-06-01", "x-api-key": KEY, "anthropic-beta": "b1"}
    with httpx.stream("POST", rec.url + "/v1/messages?beta=true", json=body, headers=headers) as r:
        received = b"".join(r.iter_raw())
    [line] = rec.lines(1)
    assert raw_bytes(line).encode() == received
    assert line["request"]["path"] == "/v1/messages?beta=true"
    assert line["request"]["headers"]["anthropic-beta"] == "b1"
    assert line["request"]["headers"]["x-api-key"] == "[redacted]"
    assert "upstream" not in line
    assert line["usage"]["output_tokens"] == line["completion_tokens"] == 6
    assert line["thread_id"] and line["thread_turn"] == 0
    # Same conversation, one turn later: same thread.
    body2 = dict(body, messages=MSG + [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "more"}])
    httpx.post(rec.url + "/v1/messages", json=body2, headers=headers).read()
    line2 = rec.lines(2)[1]
    assert (line2["thread_id"], line2["thread_turn"]) == (line["thread_id"], 1)


def test_tool_use_round_trip_through_translation(fast_mock, start_record):
    rec = start_record(fast_mock.url)
    c = ant(rec)
    with c.messages.stream(model="claude-x", max_tokens=200, messages=MSG, tools=ANTHROPIC_TOOLS,
                           tool_choice={"type": "any"}) as s:
        deltas = [e.delta.type for e in s if e.type == "content_block_delta"]
        first = s.get_final_message()
    assert "input_json_delta" in deltas
    assert first.stop_reason == "tool_use"
    tool = next(b for b in first.content if b.type == "tool_use")
    assert isinstance(tool.input["command"], str)
    follow = MSG + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "a.txt"},
                                     {"type": "text", "text": "<system-reminder>ok</system-reminder>"}]},
    ]
    second = c.messages.create(model="claude-x", max_tokens=5, messages=follow, tools=ANTHROPIC_TOOLS)
    assert second.content[0].type == "text"
    l1, l2 = rec.lines(2)
    assert l1["result"]["tool_calls"][0]["name"] == "Bash"
    assert json.loads(l1["result"]["tool_calls"][0]["arguments"]) == tool.input
    assert l1["upstream"]["request"]["body"]["tool_choice"] == "required"
    assert l1["upstream"]["request"]["body"]["tools"][0]["function"]["name"] == "Bash"
    # The tool result goes right after the assistant's tool call, the reminder after it.
    roles = [m["role"] for m in l2["upstream"]["request"]["body"]["messages"]]
    assert roles == ["user", "assistant", "tool", "user"]
    assert l2["messages"][1]["tool_calls"][0]["id"] == tool.id
    assert l2["request"]["body"]["tools"] == ANTHROPIC_TOOLS


def test_openai_tool_calls_pass_through(fast_mock, start_record):
    rec = start_record(fast_mock.url)
    r = oai(rec).chat.completions.create(model="m", messages=MSG, max_tokens=100, tools=OPENAI_TOOLS,
                                         tool_choice="required", stream=True)
    calls = [d for c in r for d in (c.choices[0].delta.tool_calls or []) if c.choices]
    assert calls and calls[0].function.name == "Bash"
    [line] = rec.lines(1)
    assert line["result"]["tool_calls"][0]["name"] == "Bash"
    assert line["result"]["stop_reason"] == "tool_calls"


@pytest.mark.parametrize("status", [429, 500, 529])
def test_upstream_errors_reach_the_client_and_the_recording(start_mock, start_record, status):
    mock = start_mock("--zero-delay", "--error-rate", "1", "--error-status", str(status))
    rec = start_record(mock.url)
    with pytest.raises(anthropic.APIStatusError) as e:
        ant(rec).messages.create(model="claude-x", max_tokens=5, messages=MSG, stream=True)
    assert e.value.status_code == status
    assert e.value.body["type"] == "error" and "injected by asb mock" in e.value.body["error"]["message"]
    with pytest.raises(openai.APIStatusError) as e:
        oai(rec).chat.completions.create(model="m", messages=MSG, max_tokens=5)
    assert e.value.status_code == status
    lines = rec.lines(2)
    assert [l["outcome"] for l in lines] == ["upstream_error"] * 2
    assert [l["status_code"] for l in lines] == [status] * 2
    assert all("injected by asb mock" in l["error"] for l in lines)


def test_upstream_down(start_record, tmp_path):
    rec = start_record("http://127.0.0.1:9")
    with pytest.raises(anthropic.InternalServerError) as e:
        ant(rec).messages.create(model="claude-x", max_tokens=5, messages=MSG)
    assert e.value.status_code == 502 and "unreachable" in str(e.value)
    with pytest.raises(openai.InternalServerError):
        oai(rec).chat.completions.create(model="m", messages=MSG, max_tokens=5, stream=True)
    lines = rec.lines(2)
    assert [l["outcome"] for l in lines] == ["upstream_unreachable"] * 2
    assert all("unreachable" in l["error"] for l in lines)


def test_cut_stream_is_recorded_as_cut(start_mock, start_record):
    mock = start_mock("--zero-delay", "--cut-rate", "1")
    rec = start_record(mock.url)
    with pytest.raises(anthropic.APIError):
        with ant(rec).messages.stream(model="claude-x", max_tokens=40, messages=MSG) as s:
            for _ in s:
                pass
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        for _ in oai(rec).chat.completions.create(model="m", messages=MSG, max_tokens=40, stream=True):
            pass
    lines = rec.lines(2)
    assert [l["outcome"] for l in lines] == ["upstream_cut"] * 2
    assert all(l["timing"]["content_events"] == 20 for l in lines)


def test_client_disconnect_mid_stream_still_writes_the_line(start_mock, start_record):
    mock = start_mock("--decode-tps", "50", "--jitter", "0")
    rec = start_record(mock.url)
    stream = oai(rec).chat.completions.create(model="m", messages=MSG, max_tokens=1000, stream=True)
    for i, _ in enumerate(stream):
        if i == 3:
            break
    stream.close()
    [line] = rec.lines(1)
    assert line["outcome"] == "client_disconnected"
    assert 0 < line["timing"]["content_events"] < 1000
    assert mock.truth(1)[0]["outcome"] == "client_disconnected"


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_ctrl_c_sigterm_and_sighup_with_calls_in_flight(start_mock, start_record, sig):
    # Ctrl+C, `kill`/`timeout`/`docker stop` and a closed terminal all drain the same way.
    import signal

    mock = start_mock("--decode-tps", "20", "--jitter", "0")
    rec = start_record(mock.url, "--drain-timeout", "1")
    got = []

    def long_call():
        try:
            for chunk in oai(rec).chat.completions.create(model="m", messages=MSG, max_tokens=500, stream=True):
                got.append(chunk)
        except Exception:
            pass

    t = threading.Thread(target=long_call)
    t.start()
    while len(got) < 3:
        time.sleep(0.02)
    rec.proc.send_signal(getattr(signal, sig))
    _, summary = rec.proc.communicate(timeout=30)
    code = rec.proc.returncode
    t.join(10)
    assert code == 128 + getattr(signal, sig), "the shell's code for the signal, after the drain"
    assert "1 call(s) in flight" in summary
    assert "1 call(s) recorded (1 failed or interrupted)" in summary
    [line] = rec.lines(1)
    assert line["outcome"] == "interrupted" and line["timing"]["content_events"] >= 2


def test_keys_never_reach_the_disk(fast_mock, start_record):
    rec = start_record(fast_mock.url, "-k", KEY + "-UPSTREAM")
    oai(rec).chat.completions.create(model="m", messages=MSG, max_tokens=2)
    ant(rec).messages.create(model="claude-x", max_tokens=2, messages=MSG)
    lines = rec.lines(2)
    text = rec.path.read_text()
    assert KEY not in text and "SECRET" not in text
    assert lines[0]["request"]["headers"]["authorization"] == "[redacted]"
    assert lines[1]["upstream"]["request"]["headers"]["authorization"] == "[redacted]"


def test_other_routes_are_forwarded_not_recorded(start_mock, start_record):
    mock = start_mock("--zero-delay", "--models", "alpha")
    rec = start_record(mock.url)
    assert [m.id for m in oai(rec).models.list()] == ["alpha"]
    r = httpx.head(rec.url + "/")
    assert r.status_code == 404  # the upstream's own answer
    assert httpx.get(rec.url + "/nope").json()["error"]["message"].endswith("no such endpoint on asb mock")
    n = ant(rec).messages.count_tokens(model="alpha", messages=MSG).input_tokens
    assert n > 0
    assert rec.lines() == []


def test_count_tokens_estimate_when_the_upstream_has_none(start_record, tmp_path):
    # An upstream that only speaks chat completions: the proxy estimates and says so.
    import http.server

    class Chat(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rec = start_record(f"http://127.0.0.1:{server.server_port}")
        r = httpx.post(rec.url + "/v1/messages/count_tokens",
                       json={"model": "claude-x", "messages": [{"role": "user", "content": "x" * 400}]})
        assert r.json() == {"input_tokens": 101}  # (400 + len("user")) / 4, rounded up
        assert r.headers["x-asb-token-count"].startswith("estimate")
    finally:
        server.shutdown()


def test_a_port_in_use_is_refused_and_the_first_recorder_keeps_it(fast_mock, start_record, tmp_path):
    # Each serving thread listens on its own SO_REUSEPORT socket; a second asb on the same
    # port must still be told the port is taken, not share the first one's connections.
    import subprocess

    from conftest import asb_bin

    rec = start_record(fast_mock.url)
    port = rec.url.rsplit(":", 1)[1]
    for command in (["record", "-e", fast_mock.url, "-m", "m", "-o", str(tmp_path / "second.jsonl")],
                    ["serve", "-w", str(rec.path)]):
        second = subprocess.run([asb_bin(), *command, "-P", port], capture_output=True, text=True, timeout=30)
        assert second.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr, second.stderr
    for _ in range(8):  # new connections each time: all reach the first recorder
        oai(rec).chat.completions.create(model="m", messages=MSG, max_tokens=3)
    assert len(rec.lines(8)) == 8
    assert not (tmp_path / "second.jsonl").exists() or not (tmp_path / "second.jsonl").read_text()


def test_each_call_shows_in_the_terminal_and_the_upstream_is_checked_at_start(start_mock, start_record):
    mock = start_mock("--zero-delay", "--models", "alpha")
    rec = start_record(mock.url)
    banner = []
    deadline = time.monotonic() + 10
    while not any("upstream check:" in l for l in banner) and time.monotonic() < deadline:
        ready, _, _ = select.select([rec.proc.stdout], [], [], 0.2)
        if ready:
            banner.append(rec.proc.stdout.readline())
    assert any("upstream check: GET /v1/models answered 200" in l for l in banner), banner
    oai(rec).chat.completions.create(model="alpha", messages=MSG, max_tokens=2)
    with pytest.raises(openai.NotFoundError):
        oai(rec).chat.completions.create(model="beta", messages=MSG, max_tokens=2)
    rec.lines(2)
    _, err = rec.stop()
    assert "#1 ok 200 POST /v1/chat/completions alpha" in err, err
    assert "#2 upstream_error 404 POST /v1/chat/completions beta" in err, err
    quiet = start_record(mock.url, "--quiet")
    oai(quiet).chat.completions.create(model="alpha", messages=MSG, max_tokens=2)
    quiet.lines(1)
    _, err = quiet.stop()
    assert "#1" not in err and "1 call(s) recorded" in err


def test_an_upstream_that_does_not_answer_is_said_at_start(start_record):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rec = start_record(f"http://127.0.0.1:{port}")
    time.sleep(0.5)
    _, err = rec.stop()
    assert "WARNING: the upstream does not answer" in err and "check -e" in err, err

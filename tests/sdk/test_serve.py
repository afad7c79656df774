"""`asb serve`: a session of the real SDKs is recorded through `asb record`, then the same
client code runs against `asb serve` with no upstream at all and must see the same answers,
streaming included; misses, exhaustion and broken recordings give the documented errors."""

import subprocess

import anthropic
import httpx
import openai
import pytest

from conftest import asb_bin, spawn_asb

TOOLS = [{"name": "Bash", "description": "Run", "input_schema": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}]


def agent_session(anthropic_base, openai_base):
    """What an agent under test does: a few calls of each kind; returns everything it saw."""
    a = anthropic.Anthropic(base_url=anthropic_base, api_key="k", max_retries=0)
    o = openai.OpenAI(base_url=openai_base, api_key="k", max_retries=0)
    seen = []
    msg = [{"role": "user", "content": "List files"}]
    m = a.messages.create(model="claude-x", max_tokens=20, messages=msg, tools=TOOLS, tool_choice={"type": "any"})
    seen.append(m.model_dump(exclude={"id"}))
    with a.messages.stream(model="claude-x", max_tokens=15, messages=msg) as s:
        seen.append(("stream", [e.model_dump() for e in s]))
    seen.append(o.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}], max_tokens=8)
                .choices[0].message.content)
    chunks = o.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}], max_tokens=8,
                                       stream=True, stream_options={"include_usage": True})
    seen.append([c.model_dump() for c in chunks])
    # The same request twice: served in recorded order.
    for _ in range(2):
        seen.append(o.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "again"}],
                                              max_tokens=4).choices[0].message.content)
    return seen


@pytest.fixture
def recorded_session(start_mock, start_record):
    mock = start_mock("--zero-delay")
    rec = start_record(mock.url)
    live = agent_session(rec.url, rec.url + "/v1")
    rec.lines(6)
    rec.stop()
    mock.stop()
    return rec.path, live


def start_serve(*args):
    proc, url = spawn_asb("serve", "-P", "0", *args)
    return proc, url


def test_serve_answers_like_the_live_session_with_no_upstream(recorded_session):
    path, live = recorded_session
    proc, url = start_serve("-w", str(path))
    try:
        replayed = agent_session(url, url + "/v1")
        assert replayed == live
        # One more identical call than was recorded: exhausted, with its own error.
        o = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.BadRequestError) as e:
            o.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "again"}], max_tokens=4)
        assert "already served" in e.value.message and e.value.response.headers["x-should-retry"] == "false"
        # A request never recorded: a miss naming the closest recorded call and the field that differs.
        with pytest.raises(openai.BadRequestError) as e:
            o.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hello"}], max_tokens=8)
        msg = e.value.message
        assert "no recorded call matches POST /v1/chat/completions" in msg
        assert 'messages[0].content: expected "hi", received "hello"' in msg
        a = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
        with pytest.raises(anthropic.BadRequestError) as e:
            a.messages.create(model="claude-x", max_tokens=21, messages=[{"role": "user", "content": "List files"}])
        # Closest: the streamed call (2 fields differ) rather than the one with tools (3).
        assert "max_tokens: expected 15, received 21" in str(e.value)
        assert "stream: expected true, received <absent>" in str(e.value)
    finally:
        proc.terminate()
        proc.wait(5)


def test_the_same_call_spelled_otherwise_is_still_matched(recorded_session):
    # The SDK's own bytes are found by their hash; these (spaces, other key order,
    # a newline) only by the canonical key — the same answer either way.
    path, live = recorded_session
    proc, url = start_serve("-w", str(path))
    try:
        body = '{"max_tokens": 8, "messages": [{"content": "hi", "role": "user"}],\n "model": "gpt-x"}'
        r = httpx.post(url + "/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == live[2]
    finally:
        proc.terminate()
        proc.wait(5)


def test_recorded_pacing_keeps_event_times(start_mock, start_record):
    mock = start_mock("--decode-tps", "50", "--jitter", "0", "--base-latency-ms", "0")
    rec = start_record(mock.url)
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10, "stream": True}
    live = httpx.post(rec.url + "/v1/chat/completions", json=body, timeout=30).content
    rec.lines(1)
    rec.stop()
    proc, url = start_serve("-w", str(rec.path), "--pacing", "recorded")
    try:
        import time
        t0 = time.perf_counter()
        served = httpx.post(url + "/v1/chat/completions", json=body, timeout=30).content
        elapsed = time.perf_counter() - t0
        assert served == live
        assert elapsed > 0.1  # 10 tokens at 50 tok/s were recorded over ~0.18 s
    finally:
        proc.terminate()
        proc.wait(5)


def test_directory_of_recordings_by_name(recorded_session, tmp_path):
    path, live = recorded_session
    d = tmp_path / "cassettes"
    d.mkdir()
    for name in ("one", "two"):
        (d / f"{name}.jsonl").write_bytes(path.read_bytes())
    proc, url = start_serve("-w", str(d))
    try:
        for name in ("one", "two"):
            assert agent_session(f"{url}/c/{name}", f"{url}/c/{name}/v1") == live
        r = httpx.post(url + "/c/three/v1/chat/completions", json={})
        assert r.status_code == 404 and "no recording named" in r.json()["error"]["message"]
    finally:
        proc.terminate()
        proc.wait(5)


def test_broken_or_foreign_recordings_are_refused_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1}\n{"seq": \n')
    r = subprocess.run([asb_bin(), "serve", "-w", str(bad), "-P", "0"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and f"{bad}:2: not valid JSON" in r.stderr
    asb_line = tmp_path / "asb.jsonl"
    asb_line.write_text('{"seq": 1, "messages": [{"role": "user", "content": "hi"}], "model": "m"}\n')
    r = subprocess.run([asb_bin(), "serve", "-w", str(asb_line), "-P", "0"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "no call in this recording can be served" in r.stderr


def test_new_episodes_records_what_is_missing_through_the_recorder(recorded_session, start_mock):
    path, live = recorded_session
    mock = start_mock("--zero-delay")
    before = len(path.read_text().splitlines())
    proc, url = start_serve("-w", str(path), "--mode", "new_episodes", "-e", mock.url, "-m", "upstream-model")
    try:
        assert agent_session(url, url + "/v1") == live  # all recorded: answered from the file
        assert mock.truth() == []  # ... without a single upstream call
        o = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        new = o.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "new"}], max_tokens=3)
        assert new.usage.completion_tokens == 3 and len(mock.truth(1)) == 1
    finally:
        proc.send_signal(2)
        proc.wait(10)
    lines = path.read_text().splitlines()
    assert len(lines) == before + 1  # appended by the same code as `asb record`
    # Served offline next time, with no upstream.
    proc, url = start_serve("-w", str(path))
    try:
        o = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        again = o.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "new"}], max_tokens=3)
        assert again.choices[0].message.content == new.choices[0].message.content
    finally:
        proc.terminate()
        proc.wait(5)


def test_record_modes_need_an_upstream(recorded_session, monkeypatch):
    path, _ = recorded_session
    for name in ["ASB_ENDPOINT", "ASB_MODEL"]:  # -e and -m read them
        monkeypatch.delenv(name, raising=False)
    r = subprocess.run([asb_bin(), "serve", "-w", str(path), "-P", "0", "--mode", "all"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "pass -e URL and -m MODEL" in r.stderr


def test_record_modes_read_the_endpoint_and_model_from_the_environment(start_mock, tmp_path, monkeypatch):
    """`asb serve`'s -e and -m read ASB_ENDPOINT and ASB_MODEL, as `asb record`'s and `asb replay`'s do."""
    mock = start_mock("--zero-delay")
    path = tmp_path / "from-env.jsonl"
    monkeypatch.setenv("ASB_ENDPOINT", mock.url)
    monkeypatch.setenv("ASB_MODEL", "model-from-env")
    proc, url = start_serve("-w", str(path), "--mode", "all")
    try:
        a = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
        m = a.messages.create(model="claude-x", max_tokens=3, messages=[{"role": "user", "content": "hi"}])
        assert m.usage.output_tokens == 3
        # Translated for the OpenAI-compatible upstream with -m's model, as `asb record` does.
        assert [t["model"] for t in mock.truth(1)] == ["model-from-env"]
    finally:
        proc.send_signal(2)
        proc.wait(10)
    assert len(path.read_text().splitlines()) == 1


@pytest.mark.parametrize("command", ["record", "replay", "serve"])
def test_the_endpoint_flags_are_the_same_everywhere(command):
    """One flag group: the same short names and environment variables in the three commands' help."""
    r = subprocess.run([asb_bin(), command, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    for flag in ["-e, --endpoint", "[env: ASB_ENDPOINT", "-m, --model", "[env: ASB_MODEL", "-k, --api-key",
                 "[env: ASB_API_KEY", "--api-key-header", "--upstream-api"]:
        assert flag in r.stdout, (command, flag)


def test_claude_code_recorded_then_served_offline(llama_server, claude_code, start_record, tmp_path):
    rec = start_record(llama_server.url, model=llama_server.model)
    work = tmp_path / "project"
    work.mkdir()
    live = claude_code.run(rec.url, "say hi", cwd=work, tools=None, timeout=300)
    rec.lines(1)
    rec.stop()
    # No upstream at all now: Claude Code's per-run values (session ids, dates, build hash)
    # are matched by serve's presets, not by editing the recording.
    proc, url = start_serve("-w", str(rec.path))
    try:
        offline = claude_code.run(url, "say hi", cwd=work, tools=None, timeout=120)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=5)
    assert offline.returncode == live.returncode, err[-3000:]
    assert (offline.output or {}).get("result") == (live.output or {}).get("result"), err[-3000:]


def test_a_test_suite_runs_twice_against_one_server_with_allow_repeats(recorded_session):
    path, live = recorded_session
    proc, url = start_serve("-w", str(path))
    try:
        agent_session(url, url + "/v1")
        with pytest.raises(anthropic.BadRequestError) as e:
            agent_session(url, url + "/v1")
        assert "--allow-repeats last" in str(e.value), "the error says how to fix it"
    finally:
        proc.terminate()
        proc.wait(10)
    for mode in ("last", "cycle"):
        proc, url = start_serve("-w", str(path), "--allow-repeats", mode)
        try:
            assert agent_session(url, url + "/v1") == live
            again = agent_session(url, url + "/v1")
            if mode == "cycle":
                assert again == live, "a second run gets the recordings again, in order"
            else:
                # The call recorded twice now gets its last recording each time.
                assert again[:-2] == live[:-2] and again[-2:] == [live[-1], live[-1]]
        finally:
            proc.terminate()
            proc.wait(10)


def test_reset_between_two_runs_and_the_request_journal(start_mock, start_record):
    """WireMock's admin API as a test suite uses it: one server for two runs of a two-call
    session, `POST /__asb/reset` between them, and the journal of what was asked."""
    def two_calls(base):
        o = openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0)
        return [o.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": q}], max_tokens=4)
                .choices[0].message.content for q in ("one", "two")]

    mock = start_mock("--zero-delay")
    rec = start_record(mock.url)
    live = two_calls(rec.url)
    rec.lines(2)
    rec.stop()
    mock.stop()
    proc, url = start_serve("-w", str(rec.path))
    try:
        assert two_calls(url) == live
        reset = httpx.post(url + "/__asb/reset")
        assert reset.status_code == 200 and reset.json() == {"reset": 2}
        assert two_calls(url) == live, "after a reset the same run passes again, without --allow-repeats"
        o = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.BadRequestError):
            o.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "three"}], max_tokens=4)
        journal = httpx.get(url + "/__asb/requests").json()
        assert journal["capacity"] == 10000 and journal["dropped"] == 0 and journal["kept"] == 3
        first, second, miss = journal["requests"]
        assert (first["method"], first["path"], first["matched"], first["seq"]) == \
            ("POST", "/v1/chat/completions", True, 1)
        assert second["matched"] and second["seq"] == 2 and "T" in second["time"]
        assert not miss["matched"] and "seq" not in miss
        assert miss["miss"] == "asb serve: no recorded call matches POST /v1/chat/completions"
        assert httpx.get(url + "/__asb/nothing").status_code == 404
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_stop_signal_ends_serve_and_mock_with_the_shells_code(recorded_session, sig):
    import signal

    path, _ = recorded_session
    for args in (["serve", "-w", str(path)], ["mock"]):
        proc, url = spawn_asb(args[0], "-P", "0", *args[1:])
        assert httpx.get(url + "/v1/models").status_code in (200, 404), "it answers before the signal"
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 128 + getattr(signal, sig), err

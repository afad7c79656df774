"""The OpenAI Responses API (`POST /v1/responses`, what Codex CLI speaks) driven by the real
`openai` SDK's `client.responses`: against `asb mock`; through `asb record`, passed
through to a Responses upstream and translated for a Chat-only one; served back by
`asb serve` with no upstream; replayed on every API path."""

import json
import subprocess
import time

import httpx
import openai
import pytest

from conftest import asb_bin, spawn_asb
from recorder import raw_bytes

KEY = "sk-asb-test-SECRET-0123456789"
SHELL = {"type": "function", "name": "shell", "description": "Run a command",
         "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}
PATCH = {"type": "custom", "name": "apply_patch", "description": "Apply a patch"}
INSTRUCTIONS = "You are a coding agent."


def client(base):
    return openai.OpenAI(base_url=base + "/v1", api_key=KEY, max_retries=0)


def codex_like_session(base):
    """What a Responses agent does: a tool call, its output sent back, streamed turns (raw
    events and the SDK's stream helper); returns everything it saw, ids aside."""
    c = client(base)
    seen = []
    first = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files"}]}]
    r = c.responses.create(model="gpt-x", instructions=INSTRUCTIONS, input=first, tools=[SHELL],
                           tool_choice="required", max_output_tokens=40, prompt_cache_key="conv-1", store=False)
    call = next(item for item in r.output if item.type == "function_call")
    seen.append((r.status, call.name, json.loads(call.arguments), r.usage.input_tokens, r.usage.output_tokens))
    second = first + [{"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
                      {"type": "function_call_output", "call_id": call.call_id, "output": "a.txt b.txt"}]
    events = c.responses.create(model="gpt-x", instructions=INSTRUCTIONS, input=second, tools=[SHELL],
                                max_output_tokens=12, prompt_cache_key="conv-1", store=False, stream=True)
    events = [e.model_dump(exclude={"response": {"id", "created_at"}}) for e in events]
    seen.append([e["type"] for e in events])
    seen.append(events[-1]["response"]["output"])
    with c.responses.stream(model="gpt-x", instructions=INSTRUCTIONS, input="Patch it", tools=[SHELL, PATCH],
                            tool_choice={"type": "custom", "name": "apply_patch"}, max_output_tokens=60) as s:
        kinds = [e.type for e in s]
        final = s.get_final_response()
    (patch,) = final.output
    seen.append((kinds, patch.type, patch.input, final.usage.output_tokens))
    return seen


def test_the_mock_speaks_responses_as_the_sdk_parses_it(fast_mock):
    c = client(fast_mock.url)
    r = c.responses.create(model="m", input="hello", max_output_tokens=5)
    assert r.object == "response" and r.status == "incomplete"
    assert r.incomplete_details.reason == "max_output_tokens"
    assert len(r.output_text.split()) == 5 and r.usage.output_tokens == 5
    assert r.usage.input_tokens > 0 and r.usage.total_tokens == r.usage.input_tokens + 5
    tool = c.responses.create(model="m", input="patch it", tools=[SHELL, PATCH, {"type": "web_search"}],
                              tool_choice={"type": "custom", "name": "apply_patch"}, max_output_tokens=30)
    (item,) = tool.output
    assert item.type == "custom_tool_call" and item.name == "apply_patch" and item.input
    assert tool.status == "completed"
    with c.responses.stream(model="m", input="hi", tools=[SHELL], tool_choice="required") as s:
        kinds = [e.type for e in s]
        final = s.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "response.function_call_arguments.delta" in kinds and kinds[-1] == "response.completed"
    (call,) = final.output
    assert call.type == "function_call" and json.loads(call.arguments)["command"]
    # The truth log says what the mock did, in the Chat words every API shares.
    assert fast_mock.truth(3)[-1]["api"] == "responses"
    with pytest.raises(openai.BadRequestError) as e:
        c.responses.create(model="m", input=[{"type": "item_reference", "id": "x"}])
    assert "input[0].type" in e.value.message


def test_record_passes_responses_through_byte_for_byte(fast_mock, start_record):
    rec = start_record(fast_mock.url, "--upstream-api", "responses")
    body = {"model": "gpt-x", "input": "hello", "stream": True, "max_output_tokens": 6, "instructions": INSTRUCTIONS}
    with httpx.stream("POST", rec.url + "/v1/responses", json=body) as r:
        received = b"".join(r.iter_raw())
    live = codex_like_session(rec.url)
    lines = rec.lines(4)
    first = lines[0]
    assert raw_bytes(first).encode() == received
    assert first["source_api"] == "responses" and first["outcome"] == "completed" and "upstream" not in first
    assert first["request"]["path"] == "/v1/responses"
    assert len(first["result"]["text"].split()) == 6 and first["result"]["stop_reason"] == "max_output_tokens"
    assert first["usage"]["output_tokens"] == 6 and first["timing"]["content_events"] == 6
    assert first["ttft_ms"] > 0
    tool_turn, output_turn = lines[1], lines[2]
    assert tool_turn["result"]["tool_calls"][0]["name"] == "shell"
    # One conversation (its prompt_cache_key), two turns.
    assert tool_turn["thread_id"] == output_turn["thread_id"] != lines[3]["thread_id"]
    assert (tool_turn["thread_turn"], output_turn["thread_turn"]) == (0, 1)
    # AgenticSwarmBench's `messages`: the conversation in Chat form.
    assert [m["role"] for m in output_turn["messages"]] == ["system", "user", "assistant", "tool"]
    assert live[0][0] == "completed"


def test_record_translates_responses_for_a_chat_only_upstream(fast_mock, start_record):
    direct = codex_like_session(fast_mock.url)
    rec = start_record(fast_mock.url)
    translated = codex_like_session(rec.url)
    # The shapes a Responses server gives (the words differ: the upstream is asked for
    # `-m`'s model, and the mock's words depend on the request).
    assert (translated[0][0], translated[0][1]) == (direct[0][0], "shell")
    assert translated[1] == direct[1]
    assert (translated[3][0], translated[3][1]) == (direct[3][0], "custom_tool_call")
    lines = rec.lines(3)
    tool_turn, streamed = lines[0], lines[1]
    assert tool_turn["source_api"] == "responses" and tool_turn["upstream"]["request"]["path"] == "/v1/chat/completions"
    up = tool_turn["upstream"]["request"]["body"]
    assert up["model"] == "asb-mock" and up["messages"][0] == {"role": "system", "content": INSTRUCTIONS}
    assert up["tool_choice"] == "required" and up["max_tokens"] == 40
    assert streamed["stream"] is True and streamed["upstream"]["request"]["body"]["stream_options"] == {"include_usage": True}
    assert streamed["upstream"]["request"]["body"]["messages"][-1]["role"] == "tool"
    assert streamed["usage"]["output_tokens"] == streamed["timing"]["content_events"] > 0
    assert streamed["result"]["text"] and streamed["outcome"] == "completed"
    # A request the translation cannot carry is refused with the field's path.
    with pytest.raises(openai.BadRequestError) as e:
        client(rec.url).responses.create(model="m", input="x", previous_response_id="resp_1")
    assert "previous_response_id" in e.value.message


WEBSOCKET = {"connection": "Upgrade", "upgrade": "websocket", "sec-websocket-version": "13",
             "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}


def test_codex_probes_through_record_answer_at_once(fast_mock, start_record):
    rec = start_record(fast_mock.url)
    t = time.monotonic()
    r = httpx.get(rec.url + "/v1/responses", headers=WEBSOCKET)
    assert r.status_code == 426 and "WebSocket" in r.json()["error"]["message"]
    assert time.monotonic() - t < 1.0
    models = httpx.get(rec.url + "/v1/models", headers={"authorization": "Bearer " + KEY}).json()
    assert models["data"][0]["id"]
    assert rec.lines() == []


@pytest.fixture
def recorded_responses(start_mock, start_record):
    mock = start_mock("--zero-delay")
    rec = start_record(mock.url, "--upstream-api", "responses")
    live = codex_like_session(rec.url)
    rec.lines(3)
    rec.stop()
    mock.stop()
    return rec.path, live


def test_serve_answers_responses_from_the_recording(recorded_responses):
    path, live = recorded_responses
    proc, url = spawn_asb("serve", "-P", "0", "-w", str(path))
    try:
        assert codex_like_session(url) == live
        r = httpx.get(url + "/v1/responses", headers=WEBSOCKET)
        assert r.status_code == 426 and "WebSocket" in r.json()["error"]["message"]
    finally:
        proc.terminate()
        proc.wait(5)


def test_the_builtin_codex_scenario_replays_on_every_api():
    listed = subprocess.run([asb_bin(), "scenarios", "--json"], capture_output=True, text=True, timeout=60)
    codex = next(s for s in json.loads(listed.stdout) if s["name"] == "builtin:codex-smollm2")
    assert codex["requests"] == 3 and codex["approx_tokens"] > 0
    for api in ("responses", "openai", "anthropic"):
        p = subprocess.run([asb_bin(), "replay", "-e", "builtin", "--upstream-api", api, "-w", "builtin:codex-smollm2"],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "3/3 ok" in p.stdout, p.stdout


def test_cache_modes_work_on_responses_bodies(start_mock):
    cached = {}
    for mode in ("allwarm", "allcold"):
        mock = start_mock("--zero-delay")
        p = subprocess.run([asb_bin(), "replay", "-e", mock.url, "--upstream-api", "responses", "-w",
                            "builtin:codex-smollm2", "--cache-mode", mode, "-r", "2", "-m", "m"],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and "6/6 ok" in p.stdout, p.stdout + p.stderr
        truth = mock.truth(6)
        assert {t["api"] for t in truth} == {"responses"}
        # The two executions' first turns (the shortest prompts): the later one finds the
        # earlier one's prompt in the server's prefix cache only if the bytes are the same.
        firsts = sorted(truth, key=lambda t: t["prompt_tokens"])[:2]
        cached[mode] = max(t["cached_tokens"] / t["prompt_tokens"] for t in firsts)
    # As recorded, all of it; poisoned from the first space of `input`, only what the mock
    # renders before the input (the tools).
    assert cached["allwarm"] > 0.9 and cached["allcold"] < cached["allwarm"] - 0.2, cached


@pytest.mark.parametrize("api", ["responses", "openai", "anthropic"])
def test_responses_recordings_replay_on_every_api(recorded_responses, start_mock, tmp_path, api):
    path, _ = recorded_responses
    mock = start_mock("--zero-delay")
    out = tmp_path / f"replay-{api}.json"
    done = subprocess.run(
        [asb_bin(), "replay", "-e", mock.url, "--upstream-api", api, "-w", str(path), "-m", "m", "-o", str(out)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    truth = mock.truth(3)
    assert {t["api"] for t in truth} == {api}
    assert all(t["status"] == 200 for t in truth)

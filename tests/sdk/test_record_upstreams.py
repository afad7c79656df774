"""`asb record` in front of a REAL llama.cpp server, driven by the real SDKs and by Claude
Code: translation (Anthropic client → Chat Completions), Anthropic passthrough, OpenAI
passthrough, each checked on what the client got and what the recording kept.

The tiny model's text is nonsense and its length varies: assertions are about the traffic,
never the words. Greedy sampling keeps replies plain (see test_upstreams.py on why)."""

import json

import anthropic
import httpx
import openai

from recorder import raw_bytes
from upstreams import token_cap_error

PROMPT = [{"role": "user", "content": "Say hi."}]
GREEDY = {"temperature": 0.0}


def test_anthropic_sdk_translated_to_llama_chat_completions(llama_server, start_record):
    rec = start_record(llama_server.url, model=llama_server.model)
    c = anthropic.Anthropic(base_url=rec.url, api_key="dummy", max_retries=0, timeout=120)
    m1 = c.messages.create(model="claude-x", max_tokens=12, messages=PROMPT, system="Be brief.", extra_body=GREEDY)
    with c.messages.stream(model="claude-x", max_tokens=12, messages=PROMPT, extra_body=GREEDY) as s:
        text = "".join(s.text_stream)
        m2 = s.get_final_message()
    assert m1.content[0].type == "text" and m1.content[0].text
    assert text == m2.content[0].text and text
    assert m2.stop_reason in ("end_turn", "max_tokens")
    l1, l2 = rec.lines(2)
    for line, m in ((l1, m1), (l2, m2)):
        assert line["outcome"] == "completed" and line["status_code"] == 200
        up = line["upstream"]
        assert up["request"]["path"] == "/v1/chat/completions"
        assert up["request"]["body"]["model"] == llama_server.model
        # The server's own usage is the recording's usage, and the client saw the same.
        server_usage = line["usage"]
        assert server_usage["source"] == "server"
        assert m.usage.output_tokens == server_usage["output_tokens"] == line["completion_tokens"]
        assert m.usage.input_tokens + m.usage.cache_read_input_tokens == server_usage["input_tokens"] == line["prompt_tokens"]
        assert line["result"]["text"] == m.content[0].text
    assert l1["upstream"]["request"]["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert l2["upstream"]["request"]["body"]["stream_options"] == {"include_usage": True}
    assert l2["upstream"]["response"]["events"][-1]["raw"] == "data: [DONE]\n\n"
    assert l2["response"]["events"][0]["raw"].startswith("event: message_start\n")


def test_anthropic_passthrough_to_llama_messages_is_byte_exact(llama_server, start_record):
    rec = start_record(llama_server.url, "--upstream-api", "anthropic", model=llama_server.model)
    body = {"model": llama_server.model, "max_tokens": 12, "messages": PROMPT, "stream": True, **GREEDY}
    with httpx.stream("POST", rec.url + "/v1/messages", json=body, timeout=120,
                      headers={"anthropic-version": "2023-06-01", "x-api-key": "dummy-key-123"}) as r:
        received = b"".join(r.iter_raw())
    c = anthropic.Anthropic(base_url=rec.url, api_key="dummy", max_retries=0, timeout=120)
    m = c.messages.create(model=llama_server.model, max_tokens=12, messages=PROMPT, extra_body=GREEDY)
    l1, l2 = rec.lines(2)
    # What the client received is exactly what the server sent (the proxy's recording of it).
    assert raw_bytes(l1).encode() == received
    assert "upstream" not in l1
    assert l1["usage"]["output_tokens"] == l1["completion_tokens"] > 0
    assert l1["timing"]["ttft_ms"] is not None
    assert l2["response"]["body"]["content"][0]["text"] == m.content[0].text
    assert l2["prompt_tokens"] == m.usage.input_tokens + (m.usage.cache_read_input_tokens or 0)


def test_openai_sdk_passthrough_to_llama_is_byte_exact(llama_server, start_record):
    rec = start_record(llama_server.url, model=llama_server.model)
    body = {"model": llama_server.model, "messages": PROMPT, "max_tokens": 12, "stream": True,
            "stream_options": {"include_usage": True}, **GREEDY}
    with httpx.stream("POST", rec.url + "/v1/chat/completions", json=body, timeout=120) as r:
        received = b"".join(r.iter_raw())
    c = openai.OpenAI(base_url=rec.url + "/v1", api_key="dummy", max_retries=0, timeout=120)
    chunks = list(c.chat.completions.create(**body))
    l1, l2 = rec.lines(2)
    assert raw_bytes(l1).encode() == received
    usage = chunks[-1].usage
    assert l2["usage"]["input_tokens"] == usage.prompt_tokens == l2["prompt_tokens"]
    assert l2["usage"]["output_tokens"] == usage.completion_tokens
    assert l2["usage"]["cache_read"] == usage.prompt_tokens_details.cached_tokens
    assert l2["result"]["text"] == "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)


def test_claude_code_through_the_recorder(llama_server, claude_code, start_record, tmp_path):
    rec = start_record(llama_server.url, model=llama_server.model)
    work = tmp_path / "project"
    work.mkdir()
    run = claude_code.run(rec.url, "say hi", cwd=work, tools=None, timeout=300)
    cap = token_cap_error(200)
    assert run.returncode == 0 or cap in (run.output or {}).get("result", ""), run.stdout[-2000:] + run.stderr[-2000:]
    lines = [l for l in rec.lines(1) if l["request"]["path"].startswith("/v1/messages")]
    assert lines, "Claude Code's calls were not recorded"
    first = lines[0]
    body = first["request"]["body"]
    # Its system prompt, its tools and its streamed answer are all kept.
    system_text = json.dumps(body["system"])
    assert "x-anthropic-billing-header" in system_text
    assert len(body["tools"]) >= 1 and all("input_schema" in t for t in body["tools"])
    assert body["stream"] is True and first["request"]["path"] == "/v1/messages?beta=true"
    assert first["request"]["headers"]["x-api-key"] == "[redacted]"
    assert first["upstream"]["request"]["body"]["tools"][0]["type"] == "function"
    events = [e["raw"] for e in first["response"]["events"]]
    assert events[0].startswith("event: message_start") and events[-1].startswith("event: message_stop")
    assert all(l["outcome"] == "completed" for l in lines)
    # Every call of this one conversation is one thread.
    assert len({l["thread_id"] for l in lines}) == 1
    if run.returncode == 0:
        assert lines[-1]["result"]["text"].strip() in run.output["result"]

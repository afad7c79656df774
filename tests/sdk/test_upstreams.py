"""Smoke tests proving the real-upstream fixtures work, against the REAL server directly.

No asb is involved: the openai and anthropic SDKs and Claude Code talk straight to the
llama.cpp server from the `llama_server` fixture. Small max_tokens keep them fast.

Quirk of the real server: when a reply starts with a token that is only part of a
multi-byte character (an emoji; ~1.5-8% of sampled replies from smollm2), llama.cpp
leaves out the first stream event: OpenAI's role chunk, Anthropic's `message_start`
(the anthropic SDK then fails in get_final_message, Claude Code reports "API returned an
empty or malformed response"). The SDK tests sample greedily (temperature 0) to stay
deterministic; Claude Code cannot be told to, so its test retries once on that error.
"""

import anthropic
import openai

from upstreams import token_cap_error

MAX_TOKENS = 16
GREEDY = 0.0  # temperature: a deterministic reply that starts with plain text
GREEDY_BODY = {"temperature": GREEDY}  # anthropic 2.12's create() has no `temperature` argument
MALFORMED_STREAM = "empty or malformed response"
PROMPT = [{"role": "user", "content": "Say hi."}]


def openai_client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="dummy", max_retries=0, timeout=120)


def anthropic_client(server):
    return anthropic.Anthropic(base_url=server.url, api_key="dummy", max_retries=0, timeout=120)


def test_llama_server_fixture(llama_server):
    assert llama_server.url.startswith("http://127.0.0.1:")
    assert llama_server.model in ("smollm2", "gemma3")
    assert llama_server.pid


def test_openai_chat(llama_server):
    r = openai_client(llama_server).chat.completions.create(
        model=llama_server.model, messages=PROMPT, max_tokens=MAX_TOKENS, temperature=GREEDY
    )
    assert r.model == llama_server.model
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.choices[0].message.role == "assistant"
    assert 0 < r.usage.completion_tokens <= MAX_TOKENS
    assert r.usage.prompt_tokens > 0


def test_openai_chat_stream_with_usage(llama_server):
    stream = openai_client(llama_server).chat.completions.create(
        model=llama_server.model, messages=PROMPT, max_tokens=MAX_TOKENS, temperature=GREEDY,
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"])
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert 0 < usage_chunk.usage.completion_tokens <= MAX_TOKENS
    assert usage_chunk.usage.prompt_tokens_details.cached_tokens is not None


def test_anthropic_messages(llama_server):
    m = anthropic_client(llama_server).messages.create(
        model=llama_server.model, messages=PROMPT, max_tokens=MAX_TOKENS, extra_body=GREEDY_BODY
    )
    assert m.type == "message" and m.role == "assistant"
    assert m.content[0].type == "text"
    assert m.stop_reason in ("end_turn", "max_tokens")
    assert 0 < m.usage.output_tokens <= MAX_TOKENS


def test_anthropic_messages_stream(llama_server):
    with anthropic_client(llama_server).messages.stream(
        model=llama_server.model, messages=PROMPT, max_tokens=MAX_TOKENS, extra_body=GREEDY_BODY
    ) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert "content_block_delta" in events and "message_delta" in events
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert 0 < final.usage.output_tokens <= MAX_TOKENS


def run_claude_once_more_if_malformed(claude_code, url, prompt, **kwargs):
    """Runs Claude Code; once more if llama.cpp's missing message_start quirk hit (see top)."""
    run = claude_code.run(url, prompt, **kwargs)
    if run.output and MALFORMED_STREAM in str(run.output.get("result")):
        run = claude_code.run(url, prompt, **kwargs)
    return run


def assert_claude_answered(run, cap=200):
    """Exit 0 with a result, or exit 1 because the tiny model rambled past the cap every try."""
    code, out, stdout, stderr = run
    assert out is not None, f"no JSON from claude (exit {code})\nstdout: {stdout}\nstderr: {stderr}"
    if code == 0:
        assert out["is_error"] is False and out["result"], out
    else:
        assert code == 1 and out["is_error"] is True, (code, out, stderr)
        assert token_cap_error(cap) in out["result"], out
    return out


def test_claude_code_headless(llama_server, claude_code, tmp_path):
    run = run_claude_once_more_if_malformed(
        claude_code, llama_server.url, "say hi", cwd=tmp_path, model=llama_server.model
    )
    assert_claude_answered(run)


def test_claude_code_continue_keeps_session(llama_server, claude_code, tmp_path):
    # Same HOME and cwd for both turns; a small cap keeps them short (the session is saved
    # even when a turn ends in the token-cap error).
    home, work, cap = tmp_path / "home", tmp_path / "work", 32
    home.mkdir(), work.mkdir()
    turn = dict(cwd=work, home=home, model=llama_server.model, max_output_tokens=cap)
    url = llama_server.url
    first = run_claude_once_more_if_malformed(claude_code, url, "say hi", **turn)
    second = run_claude_once_more_if_malformed(
        claude_code, url, "say bye", continue_session=True, **turn
    )
    assert assert_claude_answered(second, cap)["session_id"] == (
        assert_claude_answered(first, cap)["session_id"]
    )

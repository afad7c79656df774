"""The pytest plugin (python/, `pip install ./python`) driven the way its users drive it:
pytest runs a test file of theirs (pytester, in a subprocess) whose tests call the real
`openai` and `anthropic` SDKs (sync, async, streaming) and an agent subprocess; each record
mode is run against `asb mock` as the upstream, then the recordings are replayed with the
upstream gone; a call that is not recorded fails its test with serve's closest-match diff."""

import json
import subprocess

import pytest

from conftest import asb_bin

pytest_plugins = ["pytester"]

AGENT_TESTS = '''
import asyncio, json, os, subprocess, sys
import anthropic, openai

PROMPT = "hi"

def save(key, value):
    with open(os.environ["ANSWERS"], "a") as f:
        f.write(json.dumps({"key": key, "value": value}) + "\\n")

def test_sync(asb_serve):
    assert os.environ["OPENAI_BASE_URL"] == asb_serve.url + "/v1"
    r = openai.OpenAI(max_retries=0).chat.completions.create(
        model="m", messages=[{"role": "user", "content": PROMPT}], max_tokens=8)
    save("sync", r.choices[0].message.content)

def test_stream(asb_serve):
    chunks = openai.OpenAI(max_retries=0).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "stream " + PROMPT}], max_tokens=8, stream=True)
    save("stream", "".join(c.choices[0].delta.content or "" for c in chunks if c.choices))

def test_anthropic_sync(asb_serve):
    m = anthropic.Anthropic(max_retries=0).messages.create(
        model="claude-x", max_tokens=8, messages=[{"role": "user", "content": "sync " + PROMPT}])
    save("anthropic_sync", m.content[0].text)

def test_anthropic_stream(asb_serve):
    with anthropic.Anthropic(max_retries=0).messages.stream(
            model="claude-x", max_tokens=8, messages=[{"role": "user", "content": PROMPT}]) as s:
        save("anthropic", "".join(s.text_stream))

def test_async(asb_serve):
    async def run():
        client = openai.AsyncOpenAI(max_retries=0)
        chunks = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "async " + PROMPT}], max_tokens=8, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    save("async", asyncio.run(run()))

AGENT = """
import openai
r = openai.OpenAI(max_retries=0).chat.completions.create(
    model="m", messages=[{"role": "user", "content": "agent subprocess"}], max_tokens=8)
print(r.choices[0].message.content)
"""

def test_agent_subprocess(asb_serve):
    out = subprocess.run([sys.executable, "-c", AGENT], capture_output=True, text=True, check=True).stdout
    save("agent", out.strip())

def test_z_nothing_is_left_set():
    assert "OPENAI_BASE_URL" not in os.environ and "ANTHROPIC_BASE_URL" not in os.environ
'''

TWO_CALLS = '''
import openai

def test_calls(asb_serve):
    c = openai.OpenAI(max_retries=0)
    for text in {texts!r}:
        c.chat.completions.create(model="m", messages=[{{"role": "user", "content": text}}], max_tokens=4)
'''


@pytest.fixture
def inner(pytester, monkeypatch, tmp_path):
    """Runs pytest on the test files given, in a subprocess, as a user's suite."""
    answers = tmp_path / "answers.jsonl"
    monkeypatch.setenv("ANSWERS", str(answers))
    monkeypatch.setenv("ASB_BIN", asb_bin())
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ASB_ENDPOINT",
                 "ASB_UPSTREAM"):
        monkeypatch.delenv(name, raising=False)

    def run(*args):
        if answers.exists():
            answers.unlink()
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
        saved = [json.loads(l) for l in answers.read_text().splitlines()] if answers.exists() else []
        return result, {a["key"]: a["value"] for a in saved}

    return run


def lines(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_once_records_each_test_then_none_replays_it_offline(pytester, inner, start_mock):
    pytester.makepyfile(test_agent=AGENT_TESTS)
    mock = start_mock("--zero-delay")
    result, recorded = inner("--asb-record-mode", "once", "--asb-upstream", mock.url)
    result.assert_outcomes(passed=7)
    assert sorted(recorded) == ["agent", "anthropic", "anthropic_sync", "async", "stream", "sync"]
    assert all(recorded.values()), recorded
    cassettes = pytester.path / "cassettes" / "test_agent"
    names = sorted(p.name for p in cassettes.iterdir())
    assert names == [f"test_{n}.jsonl" for n in ("agent_subprocess", "anthropic_stream", "anthropic_sync", "async",
                                                  "stream", "sync")]
    for p in cassettes.iterdir():
        assert len(lines(p)) == 1, p
        v = subprocess.run([asb_bin(), "validate", str(p)], capture_output=True, text=True)
        assert v.returncode == 0, v.stdout + v.stderr
    assert len(mock.truth(expect=6)) == 6

    mock.stop()  # the upstream is gone: everything comes from the recordings
    result, replayed = inner()
    result.assert_outcomes(passed=7)
    assert replayed == recorded
    # `once` with recordings present records nothing more: the mock is down and all pass.
    result, again = inner("--asb-record-mode", "once", "--asb-upstream", mock.url)
    result.assert_outcomes(passed=7)
    assert again == recorded


def test_a_miss_fails_the_test_with_the_closest_recorded_call(pytester, inner, start_mock):
    pytester.makepyfile(test_agent=AGENT_TESTS)
    mock = start_mock("--zero-delay")
    inner("--asb-record-mode", "once", "--asb-upstream", mock.url, "-k", "test_sync")[0].assert_outcomes(passed=1)
    pytester.makepyfile(test_agent=AGENT_TESTS.replace('PROMPT = "hi"', 'PROMPT = "hello"'))
    result, _ = inner("-k", "test_sync")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "1 LLM call(s) had no recorded answer in" in out, out
    assert "Closest recorded call: seq 1 (line 1), 1 field(s) differ" in out, out
    assert 'messages[0].content: expected "hi", received "hello"' in out, out
    assert "openai.APIConnectionError:" not in out and "Connection refused" not in out, out
    # A miss swallowed by the code under test (an agent that retries or logs) still fails.
    pytester.makepyfile(test_swallowed='''
import openai
def test_sync(asb_serve):
    try:
        openai.OpenAI(max_retries=0).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "never recorded"}], max_tokens=8)
    except openai.BadRequestError:
        pass
''')
    pytester.path.joinpath("cassettes", "test_swallowed").mkdir()
    pytester.path.joinpath("cassettes", "test_swallowed", "test_sync.jsonl").write_bytes(
        pytester.path.joinpath("cassettes", "test_agent", "test_sync.jsonl").read_bytes())
    result, _ = inner("test_swallowed.py")
    result.assert_outcomes(failed=1)
    assert 'expected "hi", received "never recorded"' in result.stdout.str()


def test_none_without_a_recording_says_how_to_record_it(pytester, inner):
    pytester.makepyfile(test_agent=AGENT_TESTS)
    result, _ = inner("-k", "test_sync")
    result.assert_outcomes(errors=1)
    assert "no recording for this test at" in result.stdout.str()
    assert "--asb-record-mode once" in result.stdout.str()


def test_new_episodes_appends_and_all_records_afresh(pytester, inner, start_mock):
    mock = start_mock("--zero-delay")
    cassette = pytester.path / "cassettes" / "test_calls" / "test_calls.jsonl"
    pytester.makepyfile(test_calls=TWO_CALLS.format(texts=["one"]))
    inner("--asb-record-mode", "all", "--asb-upstream", mock.url)[0].assert_outcomes(passed=1)
    assert [l["messages"][-1]["content"] for l in lines(cassette)] == ["one"]

    pytester.makepyfile(test_calls=TWO_CALLS.format(texts=["one", "two"]))
    inner("--asb-record-mode", "new_episodes", "--asb-upstream", mock.url)[0].assert_outcomes(passed=1)
    assert [l["messages"][-1]["content"] for l in lines(cassette)] == ["one", "two"]
    assert len(mock.truth(expect=2)) == 2, "`one` was answered from the recording, not forwarded again"

    pytester.makepyfile(test_calls=TWO_CALLS.format(texts=["three"]))
    inner("--asb-record-mode", "all", "--asb-upstream", mock.url)[0].assert_outcomes(passed=1)
    assert [l["messages"][-1]["content"] for l in lines(cassette)] == ["three"]

    result, _ = inner("--asb-record-mode", "new_episodes")
    result.assert_outcomes(errors=1)
    assert "pass --asb-upstream URL" in result.stdout.str()


def test_the_marker_sets_mode_and_cassette_and_needs_no_fixture(pytester, inner, start_mock):
    mock = start_mock("--zero-delay")
    pytester.makepyfile(test_marked='''
import os, openai, pytest

@pytest.mark.asb(record_mode="once", cassette="shared/session.jsonl.zst")
def test_marked():
    assert os.environ["OPENAI_BASE_URL"].endswith("/v1")
    openai.OpenAI(max_retries=0).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "marked"}], max_tokens=4)
''')
    inner("--asb-upstream", mock.url)[0].assert_outcomes(passed=1)
    recording = pytester.path / "shared" / "session.jsonl.zst"
    assert recording.read_bytes().startswith(b"\x28\xb5\x2f\xfd"), "named .zst: written compressed"
    mock.stop()
    inner()[0].assert_outcomes(passed=1)


def test_the_plugin_is_inert_unless_asked_and_says_how_to_get_asb(pytester, inner, monkeypatch):
    pytester.makepyfile(test_plain='''
def test_plain():
    assert True
''', test_wants=AGENT_TESTS)
    result, _ = inner("--asb-bin", "/nonexistent/asb", "test_plain.py")
    result.assert_outcomes(passed=1)
    result, _ = inner("--asb-bin", "/nonexistent/asb", "test_wants.py", "-k", "test_sync")
    result.assert_outcomes(errors=1)
    assert "is not an executable file" in result.stdout.str()
    # Without ASB_BIN and with no `asb` on PATH: how to get it.
    monkeypatch.delenv("ASB_BIN")
    monkeypatch.setenv("PATH", str(pytester.path))
    result, _ = inner("test_wants.py", "-k", "test_sync")
    result.assert_outcomes(errors=1)
    assert "the `asb` binary is not on PATH: build it from the asb repository" in result.stdout.str()

"""`--redact PATTERN` in `asb record` and `asb serve`'s record modes: JSON paths, header
names and regexes applied to requests and responses (bodies, headers, streamed events)
before a line is written; a bad pattern is an error naming it; `asb validate` flags
provider key shapes left in bodies."""

import json
import subprocess

import openai

from conftest import asb_bin, spawn_asb
from recorder import Recorder

SSN = "123-45-6789"
EMAIL = "alice.secret@example.com"
GH_TOKEN = "ghp_" + "A1b2C3d4E5" * 3 + "xyz123"


def asb(*args):
    return subprocess.run([asb_bin(), *args], capture_output=True, text=True, timeout=60)


def client_calls(base):
    o = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0,
                      default_headers={"X-Customer-Id": "cust-99887766"})
    seen = o.chat.completions.create(model="m", messages=[{"role": "user", "content": f"my SSN is {SSN}"}],
                                     max_tokens=8, extra_body={"user": EMAIL}).choices[0].message.content
    chunks = o.chat.completions.create(model="m", messages=[{"role": "user", "content": f"token {GH_TOKEN}"}],
                                       max_tokens=8, stream=True)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return seen, streamed


PATTERNS = ["--redact", r"re:\d{3}-\d{2}-\d{4}", "--redact", "$.user", "--redact", "header:x-customer-id",
            "--redact", "header:X-Request-Id", "--redact", "$.choices[*].delta.content", "--redact", "$.result.text",
            "--redact", "re:ghp_[A-Za-z0-9]{36}"]


def test_record_redacts_bodies_headers_and_events_before_writing(start_mock, tmp_path):
    mock = start_mock("--zero-delay")
    rec = Recorder(mock.url, tmp_path, *PATTERNS)
    seen, streamed = client_calls(rec.url)
    assert seen and streamed, "the client gets the answers unredacted"
    rec.lines(2)
    rec.stop()
    text = rec.path.read_text()
    for secret in (SSN, EMAIL, "cust-99887766", "mock-1", GH_TOKEN):
        assert secret not in text, f"{secret} reached the recording"
    plain, stream = [json.loads(l) for l in text.splitlines()]
    assert plain["messages"][-1]["content"] == "my SSN is [redacted]"
    assert plain["request"]["body"]["user"] == "[redacted]"
    assert plain["request"]["headers"]["x-customer-id"] == "[redacted]"
    assert plain["response"]["headers"]["x-request-id"] == "[redacted]"
    assert plain["request"]["body"]["max_tokens"] == 8 and plain["model"] == "m", "what no pattern names is kept"
    # `$.result.text` named the answer: its other copy, in the response body, goes too.
    assert plain["result"]["text"] == "[redacted]" and seen not in text
    assert plain["response"]["body"]["choices"][0]["message"]["content"] == "[redacted]"
    events = [e["raw"] for e in stream["response"]["events"]]
    deltas = [json.loads(r[len("data: "):])["choices"][0]["delta"].get("content")
              for r in events if r.startswith("data: {") and json.loads(r[len("data: "):])["choices"]]
    assert deltas and all(d in (None, "", "[redacted]") for d in deltas), deltas
    assert stream["result"]["text"] == "[redacted]"
    assert stream["messages"][-1]["content"] == "token [redacted]"
    v = asb("validate", str(rec.path))
    assert v.returncode == 0, v.stdout + v.stderr


def test_a_bad_pattern_is_an_error_naming_it(tmp_path):
    for pattern, why in [("messages.content", "not a pattern"), ("$.messages[", "never closed"),
                         ("re:(", "not a regex"), ("header:", "a header name")]:
        for command in (["record", "-e", "http://127.0.0.1:9", "-m", "m", "-o", str(tmp_path / "r.jsonl")],
                        ["serve", "-w", str(tmp_path / "r.jsonl")]):
            p = asb(*command, "--redact", pattern)
            assert p.returncode == 2, p
            assert f"invalid value '{pattern}' for '--redact <PATTERN>'" in p.stderr and why in p.stderr, p.stderr


def test_serve_record_modes_redact_too(start_mock, tmp_path):
    mock = start_mock("--zero-delay")
    path = tmp_path / "cassette.jsonl"
    proc, url = spawn_asb("serve", "-P", "0", "-w", str(path), "--mode", "all", "-e", mock.url, "-m", "m",
                          "--redact", "$.user", "--redact", "header:x-request-id")
    try:
        openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=4, extra_body={"user": EMAIL})
    finally:
        proc.send_signal(2)
        proc.communicate(timeout=30)
    line = json.loads(path.read_text())
    assert line["request"]["body"]["user"] == "[redacted]" and EMAIL not in path.read_text()
    assert line["response"]["headers"]["x-request-id"] == "[redacted]"
    # A redacted request field must be left out of matching to be served again.
    proc, url = spawn_asb("serve", "-P", "0", "-w", str(path), "--ignore", "user")
    try:
        openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=4, extra_body={"user": EMAIL})
    finally:
        proc.terminate()
        proc.wait(10)


def test_validate_flags_provider_key_shapes_in_bodies(tmp_path):
    keys = {"a GitHub token": GH_TOKEN, "a Google API key": "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "a Hugging Face token": "hf_abcdefghijklmnopqrstuvwxyz0123456",
            "a Slack token": "xoxb-1234567890-abcdefghij"}
    path = tmp_path / "leaky.jsonl"
    lines = [{"format_version": 1, "seq": i + 1, "model": "m",
              "messages": [{"role": "user", "content": f"here is my key {key} thanks"}],
              "request": {"method": "POST", "path": "/v1/chat/completions", "headers": {},
                          "body": {"model": "m", "messages": [{"role": "user", "content": f"here is my key {key}"}]}}}
             for i, key in enumerate(keys.values())]
    path.write_text("".join(json.dumps(l) + "\n" for l in lines))
    p = asb("validate", str(path))
    assert p.returncode == 1
    for kind, key in keys.items():
        assert f"looks like {kind}: {key[:4]}…" in p.stdout, (kind, p.stdout)
        assert key not in p.stdout, "validate masks what it finds"

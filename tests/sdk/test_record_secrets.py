"""No secret reaches a recording, wherever the client (or the upstream) puts it: query
parameters, userinfo in `-e`, headers with key-like names, key-like JSON body fields,
`bearer`/`basic` in any casing; and `asb validate` flags each of these placements in a
recording that still has them.

Each test runs the real `asb record` in front of a small upstream on 127.0.0.1 that echoes
what it received (path, headers, body) in its answer's headers and body, so a value the
recorder knows about but fails to scrub from the echo is caught too.
"""

import base64
import http.client
import http.server
import json
import subprocess
import threading
import urllib.parse

import openai
import pytest

from conftest import asb_bin, spawn_asb


class EchoUpstream:
    """An OpenAI-compatible upstream that answers every POST with a chat completion whose
    text is the request it got (path, headers, body), and echoes each request header back
    as `x-echo-NAME`; `extra_headers` are added to every answer."""

    def __init__(self, extra_headers=()):
        extra = list(extra_headers)
        self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(handler):
                n = int(handler.headers.get("content-length") or 0)
                body = handler.rfile.read(n).decode("utf-8", "replace")
                headers = {k.lower(): v for k, v in handler.headers.items()}
                self.seen.append({"path": handler.path, "headers": headers, "body": body})
                text = json.dumps({"path": handler.path, "headers": headers, "body": body})
                answer = json.dumps({
                    "id": "chatcmpl-echo", "object": "chat.completion", "created": 0, "model": "echo",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }).encode()
                handler.send_response(200)
                handler.send_header("content-type", "application/json")
                handler.send_header("content-length", str(len(answer)))
                for k, v in headers.items():
                    if k not in ("host", "content-length", "connection", "transfer-encoding"):
                        handler.send_header("x-echo-" + k, v)
                for k, v in extra:
                    handler.send_header(k, v)
                handler.end_headers()
                handler.wfile.write(answer)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo_upstream():
    started = []

    def start(extra_headers=()):
        u = EchoUpstream(extra_headers)
        started.append(u)
        return u

    yield start
    for u in started:
        u.stop()


def post(url, path, body, headers):
    """One raw POST (exact header names and casing, any path): (status, body text)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    data = json.dumps(body).encode()
    conn.request("POST", path, body=data, headers={"content-type": "application/json", **headers})
    resp = conn.getresponse()
    text = resp.read().decode("utf-8", "replace")
    conn.close()
    return resp.status, text


def validate(path):
    return subprocess.run([asb_bin(), "validate", str(path)], capture_output=True, text=True, timeout=30)


def assert_nowhere(rec, secrets, expect_lines):
    """Stops the recorder; none of `secrets` is in the file's bytes, and validate passes."""
    rec.lines(expect_lines)
    code, err = rec.stop()
    assert code == 130, err  # stopped by Ctrl+C, as a shell reports it
    data = rec.path.read_bytes()
    assert len(data.splitlines()) == expect_lines
    for s in secrets:
        assert s.encode() not in data, f"{s!r} reached the recording"
    v = validate(rec.path)
    assert v.returncode == 0, v.stdout + v.stderr
    return [json.loads(l) for l in data.splitlines()]


def chat(content):
    return {"model": "m", "messages": [{"role": "user", "content": content}], "max_tokens": 4}


def test_query_parameters_with_key_like_names(echo_upstream, start_record):
    up = echo_upstream()
    rec = start_record(up.url)
    secrets = ["qkey-AAAA1111", "qapikey-BBBB2222", "qaccess-CCCC3333", "qsig-DDDD4444",
               "qtoken-EEEE5555", "qpass-FFFF6666", "qsecret+GGGG/77="]
    quoted = urllib.parse.quote(secrets[6], safe="")
    path = (f"/v1/chat/completions?key={secrets[0]}&api_key={secrets[1]}&access_token={secrets[2]}"
            f"&signature={secrets[3]}&beta=true&Token={secrets[4]}&password={secrets[5]}&client_secret={quoted}")
    status, _ = post(rec.url, path, chat("hello"), {})
    assert status == 200
    # The upstream got the real values.
    assert up.seen[0]["path"] == path
    # The openai SDK's default_query, and the key repeated in the prompt.
    client = openai.OpenAI(base_url=rec.url + "/v1", api_key="sk-none", max_retries=0,
                           default_query={"api_key": "sdkquery-HHHH8888"})
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "it is sdkquery-HHHH8888"}])
    [line, line2] = assert_nowhere(rec, secrets + ["sdkquery-HHHH8888", quoted], 2)
    assert line["request"]["path"] == (
        "/v1/chat/completions?key=[redacted]&api_key=[redacted]&access_token=[redacted]"
        "&signature=[redacted]&beta=true&Token=[redacted]&password=[redacted]&client_secret=[redacted]")
    assert line2["request"]["path"] == "/v1/chat/completions?api_key=[redacted]"


def test_query_key_in_an_unreachable_upstream_error(start_record):
    # A closed port: the error names the upstream URL (with the client's query).
    rec = start_record("http://127.0.0.1:9")
    status, _ = post(rec.url, "/v1/chat/completions?key=qerr-IIII9999&sig=ab", chat("hi"), {})
    assert status >= 500
    [line] = assert_nowhere(rec, ["qerr-IIII9999", "sig=ab"], 1)
    assert line["outcome"] == "upstream_unreachable"
    assert "key=[redacted]" in line["error"], line["error"]


def test_userinfo_in_the_endpoint(echo_upstream, start_record):
    up = echo_upstream()
    endpoint = up.url.replace("http://", "http://alice-user:PASS-word-1234@")
    rec = start_record(endpoint)
    status, _ = post(rec.url, "/v1/chat/completions", chat("hello"), {})
    assert status == 200
    # Userinfo is sent the way curl sends it: as Basic auth, and never as part of the host.
    blob = base64.b64encode(b"alice-user:PASS-word-1234").decode()
    assert up.seen[0]["headers"]["authorization"] == f"Basic {blob}"
    assert "@" not in up.seen[0]["headers"]["host"]
    # An unreachable upstream: its error names the URL without the userinfo.
    rec2 = start_record("http://bob-user:PASS-word-5678@127.0.0.1:9/v1")
    status, _ = post(rec2.url, "/v1/chat/completions", chat("hi"), {})
    assert status >= 500
    [line] = assert_nowhere(rec, ["PASS-word-1234", "alice-user", blob], 1)
    assert line["request"]["headers"].get("authorization") is None
    [line2] = assert_nowhere(rec2, ["PASS-word-5678", "bob-user"], 1)
    assert "http://127.0.0.1:9/v1/chat/completions" in line2["error"], line2["error"]
    # Nor is it printed.
    for r in (rec, rec2):
        assert "PASS-word" not in r.summary


def test_userinfo_is_not_printed_in_the_banner(tmp_path):
    import signal

    proc, _ = spawn_asb("record", "-e", "http://carol:PASS-word-9999@127.0.0.1:9", "-m", "m",
                        "-o", str(tmp_path / "r.jsonl"), "-P", "0")
    try:
        banner = []
        while not banner or not banner[-1].startswith("Stop with Ctrl+C"):
            banner.append(proc.stdout.readline())
            assert banner[-1], "the banner ended early"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        out = "".join(banner) + out
    finally:
        proc.kill()
    assert "PASS-word-9999" not in out + err and "carol" not in out + err
    assert "http://127.0.0.1:9" in out


def test_headers_with_key_like_names_and_their_echoes(echo_upstream, start_record):
    up = echo_upstream(extra_headers=[("x-upstream-secret", "respsecret-JJJJ0000"),
                                      ("set-cookie", "sid=respcookie-KKKK1111; Path=/"),
                                      ("x-ratelimit-remaining-tokens", "29000")])
    rec = start_record(up.url)
    sent = {
        "apikey": "hdr-apikey-0001", "x-apikey": "hdr-xapikey-0002", "x-custom-auth": "hdr-custauth-0003",
        "x-password": "hdr-password-0004", "x-session-token": "hdr-session-0005",
        "x-client-credential": "hdr-cred-0006", "cookie": "hdr-cookie-0007",
        "x-signature": "hdr-sig-0008",
        # Harmless ones, kept as sent.
        "x-stainless-lang": "python", "anthropic-version": "2023-06-01", "anthropic-beta": "tools-2024",
        "x-request-id": "req-1234", "user-agent": "test-agent/1.0", "accept": "application/json",
    }
    status, text = post(rec.url, "/v1/chat/completions", chat("the secret is respsecret-JJJJ0000"), sent)
    assert status == 200
    assert "hdr-apikey-0001" in text  # the client got the echo unchanged
    secret_values = [v for k, v in sent.items() if v.startswith("hdr-")]
    [line] = assert_nowhere(rec, secret_values + ["respsecret-JJJJ0000", "respcookie-KKKK1111"], 1)
    h = line["request"]["headers"]
    for k, v in sent.items():
        assert h[k] == ("[redacted]" if v.startswith("hdr-") else v), k
    rh = line["response"]["headers"]
    assert rh["x-upstream-secret"] == "[redacted]" and rh["set-cookie"] == "[redacted]"
    assert rh["x-echo-x-password"] == "[redacted]" and rh["x-echo-x-stainless-lang"] == "python"
    assert rh["x-ratelimit-remaining-tokens"] == "29000"
    assert rh["content-type"] == "application/json"


def test_key_like_body_fields(echo_upstream, start_record):
    up = echo_upstream()
    rec = start_record(up.url)
    client = openai.OpenAI(base_url=rec.url + "/v1", api_key="sk-none", max_retries=0)
    client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "repeat body-apikey-L111 and body-pw-N333"}],
        extra_body={"api_key": "body-apikey-L111",
                    "metadata": {"nested": [{"apiKey": "body-camel-M222"}], "password": "body-pw-N333",
                                 "access_token": "body-at-O444", "client_secret": "body-cs-P555",
                                 "max_tokens_note": "harmless-text"}},
    )
    secrets = ["body-apikey-L111", "body-camel-M222", "body-pw-N333", "body-at-O444", "body-cs-P555"]
    [line] = assert_nowhere(rec, secrets, 1)
    assert line["request"]["body"]["metadata"]["max_tokens_note"] == "harmless-text"
    assert line["request"]["body"]["api_key"] == "[redacted]"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "token"])
def test_authorization_schemes_in_any_casing(echo_upstream, start_record, scheme):
    up = echo_upstream()
    rec = start_record(up.url)
    token = f"tok-{scheme}-QQQQ7777"
    status, _ = post(rec.url, "/v1/chat/completions", chat(f"my token is {token}"),
                     {"Authorization": f"{scheme} {token}"})
    assert status == 200
    assert_nowhere(rec, [token], 1)


def test_basic_authorization(echo_upstream, start_record):
    up = echo_upstream()
    rec = start_record(up.url)
    blob = base64.b64encode(b"dave:basic-pw-RRRR8888").decode()
    status, _ = post(rec.url, "/v1/chat/completions", chat(f"pw basic-pw-RRRR8888 blob {blob}"),
                     {"authorization": f"basic {blob}"})
    assert status == 200
    assert_nowhere(rec, [blob, "basic-pw-RRRR8888"], 1)


LEAKS = {
    "query": ({"request": {"method": "POST", "path": "/v1/chat/completions?api_key=leak-q-0001", "headers": {}}},
              "request.path"),
    "upstream query": ({"upstream": {"request": {"method": "POST", "path": "/v1/x?access_token=leak-q-0002",
                                                 "headers": {}}}}, "upstream.request.path"),
    "error url": ({"error": "upstream http://h/v1/chat/completions?key=leak-q-0003 unreachable"}, "error"),
    "userinfo": ({"error": "upstream http://user:leak-pw-0004@h/v1 unreachable"}, "error"),
    "header": ({"request": {"method": "POST", "path": "/", "headers": {"x-custom-auth": "leak-h-0005"}}},
               "request.headers.x-custom-auth"),
    "response header": ({"response": {"status": 200, "headers": {"x-apikey": "leak-h-0006"}}},
                        "response.headers.x-apikey"),
    "body field": ({"request": {"method": "POST", "path": "/", "headers": {},
                                "body": {"metadata": {"clientSecret": "leak-b-0007"}}}},
                   "request.body.metadata.clientSecret"),
    "bearer": ({"messages": [{"role": "user", "content": "use bearer leakbearer0008xyz"}]}, "messages[0].content"),
    "basic": ({"messages": [{"role": "user", "content": "BASIC " + base64.b64encode(b"u:leak-0009").decode()}]},
              "messages[0].content"),
}


def test_validate_flags_every_placement(tmp_path):
    for name, (fields, where) in LEAKS.items():
        path = tmp_path / f"{name.replace(' ', '-')}.jsonl"
        path.write_text(json.dumps({"seq": 1, "model": "m", **fields}) + "\n")
        v = validate(path)
        assert v.returncode != 0, f"{name}: {v.stdout}"
        assert f":1: {where}:" in v.stdout, f"{name}: {v.stdout}"
        # Findings show a value's first 4 characters and its length, never the value.
        assert name.split()[0] in ("bearer", "basic") or "leak-" not in v.stdout, v.stdout
    # The same lines, redacted, pass.
    clean = {"seq": 1, "model": "m",
             "request": {"method": "POST", "path": "/v1/chat/completions?api_key=[redacted]&beta=true",
                         "headers": {"x-custom-auth": "[redacted]", "cookie": "[redacted], [redacted]",
                                     "x-request-id": "req-123456789", "x-stainless-lang": "python"},
                         "body": {"metadata": {"clientSecret": "[redacted]"}, "max_tokens": 5}},
             "error": "upstream http://h/v1/chat/completions?key=[redacted] unreachable",
             "messages": [{"role": "user", "content": "a basic question about bearer tokens"}]}
    path = tmp_path / "clean.jsonl"
    path.write_text(json.dumps(clean) + "\n")
    v = validate(path)
    assert v.returncode == 0, v.stdout


def test_translated_calls_through_hyper(echo_upstream, start_record):
    """An Anthropic client in front of an OpenAI-compatible upstream: the proxy translates
    (through hyper, not the hand-written passthrough), and records both exchanges."""
    import anthropic

    up = echo_upstream(extra_headers=[("x-upstream-token", "resptoken-SSSS2222")])
    rec = start_record(up.url)
    client = anthropic.Anthropic(base_url=rec.url, api_key="sk-ant-none", max_retries=0,
                                 default_headers={"x-custom-auth": "ant-custauth-TTTT3333"},
                                 default_query={"access_token": "ant-query-UUUU4444"})
    client.messages.create(model="m", max_tokens=4, metadata={"user_id": "u1"},
                           messages=[{"role": "user", "content": "repeat ant-custauth-TTTT3333"}],
                           extra_body={"client_secret": "ant-body-VVVV5555"})
    [line] = assert_nowhere(rec, ["ant-custauth-TTTT3333", "ant-query-UUUU4444", "ant-body-VVVV5555",
                                  "resptoken-SSSS2222", "sk-ant-none"], 1)
    assert line["request"]["path"] == "/v1/messages?access_token=[redacted]"
    assert line["upstream"]["response"]["headers"]["x-upstream-token"] == "[redacted]"


def test_serve_record_modes_redact_the_same(echo_upstream, tmp_path):
    up = echo_upstream()
    path = tmp_path / "served.jsonl"
    proc, url = spawn_asb("serve", "-w", str(path), "-P", "0", "--mode", "all", "-e",
                          up.url.replace("http://", "http://srv-user:srv-PASS-6666@"), "-m", "m")
    try:
        status, _ = post(url, "/v1/chat/completions?key=srv-query-WWWW7777", chat("hi srv-hdr-XXXX8888"),
                         {"x-apikey": "srv-hdr-XXXX8888"})
        assert status == 200
        import signal
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    data = path.read_bytes()
    assert len(data.splitlines()) == 1
    for s in ["srv-PASS-6666", "srv-user", "srv-query-WWWW7777", "srv-hdr-XXXX8888"]:
        assert s.encode() not in data, s
        assert s not in out + err, s
    assert validate(path).returncode == 0

"""Adversarial inputs against the real `asb` binary: none may crash or hang `asb serve`,
`asb mock` or `asb record`. Absurd recordings and flags get a clear error naming their
cause, schemas asking for huge arguments get a 400, and slow or silent clients are cut
after the configured timeouts. Loopback only; every test is bounded in time."""

import json
import socket
import subprocess
import time

import httpx
import pytest

from conftest import asb_bin, spawn_asb

# Short timeouts so that cut connections show within a test's few seconds.
FAST_TIMEOUTS = ["--header-timeout", "1", "--idle-timeout", "2", "--body-timeout", "1"]

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
    return proc.stderr.read()


def host_port(url):
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def recording_with_event_times(path, times):
    """A one-call recording whose streamed answer has one event per time (ms)."""
    events = [{"t": t, "raw": f"data: {{\"n\": {i}}}\n\n"} for i, t in enumerate(times)]
    line = {
        "seq": 1, "format_version": 1, "outcome": "completed",
        "request": {"method": "POST", "path": "/v1/chat/completions", "headers": {},
                    "body": {**CHAT, "stream": True}},
        "response": {"status": 200, "headers": {"content-type": "text/event-stream"}, "events": events},
    }
    path.write_text(json.dumps(line) + "\n")
    return path


# ---- 1. Absurd event times and pacing values.


def test_serve_paces_an_absurd_event_time_without_panicking(tmp_path):
    rec = recording_with_event_times(tmp_path / "rec.jsonl", [1.0, 1e300])
    proc, url = spawn_asb("serve", "-P", "0", "-w", str(rec), "--pacing", "recorded")
    try:
        with httpx.Client(timeout=5) as c:
            with c.stream("POST", url + "/v1/chat/completions", json={**CHAT, "stream": True}) as r:
                assert r.status_code == 200
                first = next(r.iter_raw())
                assert b'"n": 0' in first
            # The server is still there and answers.
            assert c.get(url + "/v1/models").status_code == 404
    finally:
        err = stop(proc)
    assert "panicked" not in err, err
    assert f"{rec}:1: event time 1e300 ms is not plausible" in err, err


@pytest.mark.parametrize("pacing", ["scale=1e308", "scale=-1", "scale=NaN", "scale=inf"])
def test_serve_refuses_a_pacing_it_cannot_wait(tmp_path, pacing):
    rec = recording_with_event_times(tmp_path / "rec.jsonl", [1.0])
    run = subprocess.run([asb_bin(), "serve", "-P", "0", "-w", str(rec), "--pacing", pacing],
                         capture_output=True, text=True, timeout=10)
    assert run.returncode == 2, run
    assert pacing in run.stderr and "panicked" not in run.stderr, run.stderr


@pytest.mark.parametrize("flags", [["--header-timeout", "1e300"], ["--idle-timeout", "0"], ["--body-timeout", "NaN"]])
def test_servers_refuse_timeouts_they_cannot_keep(tmp_path, flags):
    run = subprocess.run([asb_bin(), "mock", "-P", "0", *flags], capture_output=True, text=True, timeout=10)
    assert run.returncode == 2 and flags[1] in run.stderr and "panicked" not in run.stderr, run.stderr


def test_replay_refuses_a_request_timeout_it_cannot_wait(tmp_path):
    rec = tmp_path / "one.jsonl"
    rec.write_text(json.dumps({"seq": 1, "messages": CHAT["messages"], "model": "rec", "max_tokens": 5}) + "\n")
    run = subprocess.run([asb_bin(), "replay", "-e", "http://127.0.0.1:9", "-m", "m", "-w", str(rec),
                          "--timeout", "1e300", "-o", str(tmp_path / "run.json")],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "1e300" in run.stderr and "panicked" not in run.stderr, run.stderr


@pytest.mark.parametrize("t", ["1e300", "-5", "90000000"])
def test_validate_flags_absurd_event_times_with_file_and_line(tmp_path, t):
    rec = recording_with_event_times(tmp_path / "rec.jsonl", [1.0, float(t)])
    run = subprocess.run([asb_bin(), "validate", str(rec)], capture_output=True, text=True, timeout=10)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "events[1].t" in out and "not a plausible event time" in out, out
    assert f"{rec}:1" in out, out


# ---- 2. Sizes a request asks the mock to make.


@pytest.mark.parametrize("schema, cause", [
    ({"type": "object", "properties": {"a": {"type": "string", "minLength": 2_000_000_000}}}, "minLength 2000000000"),
    ({"type": "object", "properties": {"a": {"type": "array", "minItems": 10**12}}}, "minItems 1000000000000"),
    ({"type": "object", "properties": {"a": {"type": "array", "minItems": 1024, "items": {
        "type": "array", "minItems": 1024, "items": {"type": "string", "minLength": 65536}}}}}, "larger than"),
])
def test_mock_refuses_a_tool_schema_asking_for_huge_arguments(fast_mock, schema, cause):
    tools = [{"type": "function", "function": {"name": "big", "parameters": schema}}]
    body = {**CHAT, "tools": tools, "tool_choice": "required"}
    started = time.monotonic()
    r = httpx.post(fast_mock.url + "/v1/chat/completions", json=body, timeout=10)
    assert time.monotonic() - started < 5
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and cause in error["message"], error
    assert "tools[0]" in error["message"] and "`big`" in error["message"], error
    # The mock goes on answering.
    assert httpx.post(fast_mock.url + "/v1/chat/completions", json=CHAT, timeout=5).status_code == 200


def test_mock_refuses_more_stop_sequences_than_it_looks_for(fast_mock):
    r = httpx.post(fast_mock.url + "/v1/chat/completions", json={**CHAT, "stop": ["s"] * 10_000}, timeout=10)
    assert r.status_code == 400 and "at most 16 stop sequences" in r.json()["error"]["message"], r.text


# ---- 3. Slow and silent clients.


def open_clients(url, silent, trickling):
    """`silent` connections that send nothing, `trickling` ones sending a request head
    byte by byte; returns (silent, trickling) sockets."""
    addr = host_port(url)
    quiet = [socket.create_connection(addr, timeout=5) for _ in range(silent)]
    slow = [socket.create_connection(addr, timeout=5) for _ in range(trickling)]
    for s in quiet + slow:
        s.setblocking(False)
    return quiet, slow


def closed(s):
    """Whether the server closed `s` (EOF or reset); never blocks."""
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def wait_all_closed(quiet, slow, within):
    """Trickles a head on `slow` (a byte each 0.2 s) until every socket is closed by the
    server or `within` seconds pass; returns the seconds it took, or None."""
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200
    started, sent = time.monotonic(), 0
    open_ = set(quiet + slow)
    while time.monotonic() - started < within:
        for s in slow:
            if s in open_:
                try:
                    s.send(head[sent:sent + 1])
                except OSError:
                    open_.discard(s)
        sent += 1
        open_ -= {s for s in open_ if closed(s)}
        if not open_:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def assert_slow_clients_are_cut(url):
    quiet, slow = open_clients(url, silent=40, trickling=40)
    try:
        took = wait_all_closed(quiet, slow, within=8)
        assert took is not None, "connections still open after 8 s"
        # New connections, silent or trickling, are cut at the header timeout (1 s).
        assert took >= 0.8, took
    finally:
        for s in quiet + slow:
            s.close()


def test_mock_cuts_silent_and_trickling_connections(start_mock):
    mock = start_mock("--zero-delay", *FAST_TIMEOUTS)
    assert_slow_clients_are_cut(mock.url)
    assert httpx.post(mock.url + "/v1/chat/completions", json=CHAT, timeout=5).status_code == 200


def test_serve_cuts_silent_and_trickling_connections(tmp_path):
    rec = recording_with_event_times(tmp_path / "rec.jsonl", [1.0])
    proc, url = spawn_asb("serve", "-P", "0", "-w", str(rec), *FAST_TIMEOUTS)
    try:
        assert_slow_clients_are_cut(url)
        assert httpx.post(url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=5).status_code == 200
    finally:
        stop(proc)


def test_record_cuts_silent_and_trickling_connections(start_mock, start_record):
    mock = start_mock("--zero-delay")
    rec = start_record(mock.url, *FAST_TIMEOUTS)
    assert_slow_clients_are_cut(rec.url)


def test_record_through_hyper_cuts_silent_and_trickling_connections(start_mock, start_record):
    """A connection whose first request is not a passthrough call goes to hyper's side;
    kept alive after their answer, silent, these are closed at the idle timeout (2 s)."""
    mock = start_mock("--zero-delay")
    rec = start_record(mock.url, *FAST_TIMEOUTS)
    conns = []
    for _ in range(30):
        s = socket.create_connection(host_port(rec.url), timeout=5)
        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(65536)  # the answer (a GET goes to hyper)
        s.setblocking(False)
        conns.append(s)
    try:
        took = wait_all_closed(conns, [], within=8)
        assert took is not None and took >= 1.5, took
    finally:
        for s in conns:
            s.close()


def raw_exchange(url, data, half_close=False, wait=5.0):
    """Sends `data` on a new connection (then shuts down its sending side if
    `half_close`) and returns all the server sent until it closed or `wait` passed."""
    s = socket.create_connection(host_port(url), timeout=wait)
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        got = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


def stalled_body_request(path="/v1/chat/completions"):
    body = json.dumps(CHAT).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body) + 100}\r\n\r\n").encode() + body


def test_mock_cuts_a_stalled_request_body_with_408(start_mock):
    mock = start_mock("--zero-delay", *FAST_TIMEOUTS)
    started = time.monotonic()
    got = raw_exchange(mock.url, stalled_body_request())
    assert got.startswith(b"HTTP/1.1 408"), got
    assert b"--body-timeout" in got
    assert time.monotonic() - started < 4


def test_serve_cuts_a_stalled_request_body_with_408(tmp_path):
    rec = recording_with_event_times(tmp_path / "rec.jsonl", [1.0])
    proc, url = spawn_asb("serve", "-P", "0", "-w", str(rec), *FAST_TIMEOUTS)
    try:
        got = raw_exchange(url, stalled_body_request())
        assert got.startswith(b"HTTP/1.1 408"), got
    finally:
        stop(proc)


def test_kept_alive_connection_lives_past_the_header_timeout_until_the_idle_one(start_mock):
    mock = start_mock("--zero-delay", *FAST_TIMEOUTS)
    with httpx.Client(timeout=5) as c:
        first = c.post(mock.url + "/v1/chat/completions", json=CHAT)
        time.sleep(1.5)  # past --header-timeout, within --idle-timeout: the connection stays
        second = c.post(mock.url + "/v1/chat/completions", json=CHAT)
        assert first.status_code == second.status_code == 200
    s = socket.create_connection(host_port(mock.url), timeout=5)
    body = json.dumps(CHAT).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert s.recv(65536).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    s.settimeout(5)
    assert s.recv(65536) == b""  # closed by the server after --idle-timeout
    assert 1.5 < time.monotonic() - started < 4
    s.close()


# ---- 4. Half-closed connections.


def test_mock_answers_a_client_that_half_closes_after_its_request(start_mock):
    # The answer takes a while (its first token after 300 ms), as a real server's does: the
    # end of the client's sending side arrives while it is being made.
    mock = start_mock("--base-latency-ms", "300")
    body = json.dumps(CHAT).encode()
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    got = raw_exchange(mock.url, request, half_close=True)
    assert got.startswith(b"HTTP/1.1 200"), got
    assert b"chat.completion" in got


# ---- 5. Directory entries that are not recordings.


def test_serve_names_a_fifo_or_a_symlink_loop_for_what_it_is(tmp_path):
    import os

    lib = tmp_path / "lib"
    lib.mkdir()
    recording_with_event_times(lib / "ok.jsonl", [1.0])
    os.mkfifo(lib / "fifo.jsonl")
    (lib / "loop.jsonl").symlink_to(lib / "loop.jsonl")
    proc, url = spawn_asb("serve", "-P", "0", "-w", str(lib))
    try:
        for name, what in [("fifo", "is a FIFO, not a recording"), ("loop", "is a symlink loop, not a recording")]:
            r = httpx.post(f"{url}/c/{name}/v1/chat/completions", json=CHAT, timeout=5)
            assert r.status_code == 404
            message = r.json()["error"]["message"]
            assert f"{lib / name}.jsonl {what}" in message, message
        ok = httpx.post(f"{url}/c/ok/v1/chat/completions", json={**CHAT, "stream": True}, timeout=5)
        assert ok.status_code == 200
    finally:
        stop(proc)
    # A FIFO given as the recording is refused at once, not opened (which would wait for a writer).
    run = subprocess.run([asb_bin(), "serve", "-P", "0", "-w", str(lib / "fifo.jsonl")],
                         capture_output=True, text=True, timeout=10)
    assert run.returncode != 0 and "is a FIFO, not a recording" in run.stderr, run.stderr


# ---- 6. Endpoints with a query (Azure-style `?api-version=…`).


class PathsSeen:
    """A tiny OpenAI-compatible upstream on loopback that keeps every request target it got."""

    def __init__(self):
        import http.server
        import threading

        seen = self.paths = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                seen.append(self.path)
                body = json.loads(self.rfile.read(int(self.headers["content-length"])) or b"{}")
                if body.get("stream"):
                    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"},
                                          "finish_reason": "stop"}]}
                    payload = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
                    kind = "text/event-stream"
                else:
                    payload = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                                          "choices": [{"index": 0, "finish_reason": "stop", "message":
                                                       {"role": "assistant", "content": "ok"}}],
                                          "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                                    "total_tokens": 2}}).encode()
                    kind = "application/json"
                self.send_response(200)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def paths_seen():
    upstream = PathsSeen()
    yield upstream
    upstream.close()


def test_record_keeps_the_endpoint_query_after_the_request_s_own(paths_seen, start_record):
    rec = start_record(paths_seen.url + "/v1?api-version=2024-10-21")
    r = httpx.post(rec.url + "/v1/chat/completions?trace=1", json=CHAT, timeout=5)
    assert r.status_code == 200, r.text
    r = httpx.post(rec.url + "/v1/chat/completions", json=CHAT, timeout=5)
    assert r.status_code == 200, r.text
    assert paths_seen.paths == ["/v1/chat/completions?trace=1&api-version=2024-10-21",
                                "/v1/chat/completions?api-version=2024-10-21"]


def test_replay_keeps_the_endpoint_query(paths_seen, tmp_path):
    rec = tmp_path / "one.jsonl"
    rec.write_text(json.dumps({"seq": 1, "messages": CHAT["messages"], "model": "rec", "max_tokens": 5,
                               "stream": True}) + "\n")
    run = subprocess.run([asb_bin(), "replay", "-e", paths_seen.url + "/v1?api-version=2024-10-21", "-m", "m",
                          "-w", str(rec), "-o", str(tmp_path / "run.json")],
                         capture_output=True, text=True, timeout=60)
    assert paths_seen.paths and set(paths_seen.paths) == {"/v1/chat/completions?api-version=2024-10-21"}, (
        paths_seen.paths, run.stderr)


def test_replay_sends_an_endpoint_key_but_never_writes_it(paths_seen, tmp_path):
    rec = tmp_path / "one.jsonl"
    rec.write_text(json.dumps({"seq": 1, "messages": CHAT["messages"], "model": "rec", "max_tokens": 5,
                               "stream": True}) + "\n")
    endpoint = paths_seen.url.replace("http://", "http://user:pw-S3CRET@") + "/v1?api_key=K3Y-S3CRET"
    out = tmp_path / "run.md"
    run = subprocess.run([asb_bin(), "replay", "-e", endpoint, "-m", "m", "-w", str(rec), "-o", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert paths_seen.paths == ["/v1/chat/completions?api_key=K3Y-S3CRET"], (paths_seen.paths, run.stderr)
    for text in (run.stdout, run.stderr, out.read_text(), out.with_suffix(".json").read_text()):
        assert "S3CRET" not in text
    assert "api_key=[redacted]" in out.with_suffix(".json").read_text()


# ---- 7. Recordings that are not UTF-8.


def test_replay_names_the_file_and_line_that_is_not_utf8(tmp_path):
    rec = tmp_path / "bad.jsonl"
    good = json.dumps({"seq": 1, "messages": CHAT["messages"], "model": "rec", "max_tokens": 5}).encode()
    rec.write_bytes(good + b"\n" + good.replace(b"hi", b"h\xff\xfei") + b"\n")
    run = subprocess.run([asb_bin(), "replay", "-e", "http://127.0.0.1:9", "-m", "m", "-w", str(rec),
                          "-o", str(tmp_path / "run.json")], capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    assert f"{rec}:2: not UTF-8" in run.stderr, run.stderr


def test_mock_closes_an_idle_http2_prior_knowledge_connection(start_mock):
    mock = start_mock("--zero-delay", *FAST_TIMEOUTS)
    s = socket.create_connection(host_port(mock.url), timeout=8)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # preface, SETTINGS
    started = time.monotonic()
    try:
        while s.recv(65536):  # the server's SETTINGS and ack, then its close after --idle-timeout
            pass
    except ConnectionResetError:
        pass
    assert 1.5 < time.monotonic() - started < 5
    s.close()

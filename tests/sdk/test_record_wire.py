"""`asb record`'s hand-written HTTP/1.1 passthrough, seen from both sockets: an upstream
written here byte by byte (chunk extensions, events split across chunks, trailers, bodies
delimited by length or by closing, a kept-alive connection dropped between calls) and a
client reading the raw bytes the proxy sends back."""

import json
import socket
import threading
import time

import httpx
import openai

from recorder import raw_bytes

BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}).encode()


class ScriptedUpstream:
    """Answers each request with the next script entry: a list of byte pieces sent with a
    pause between them (None: no answer at all), then optionally a hang-up. Keeps every
    request it read."""

    def __init__(self, scripts):
        self.scripts = list(scripts)
        self.requests = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        with conn:
            while self.scripts:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                if head.startswith(b"GET "):
                    # The recorder's start-up check (GET /v1/models): not a scripted call.
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    continue
                length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
                while len(buf) < length:
                    buf += conn.recv(65536)
                self.requests.append((head.decode(), buf[:length]))
                buf = buf[length:]
                pieces, hang_up = self.scripts.pop(0)
                for piece in pieces or []:
                    conn.sendall(piece)
                    time.sleep(0.02)
                if hang_up:
                    return


def raw_call(url, body=BODY, path="/v1/chat/completions"):
    """Sends one request with `connection: close` and returns (head, body) as received."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Accept-Encoding: gzip\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        received = b""
        while data := s.recv(65536):
            received += data
    head, _, rest = received.partition(b"\r\n\r\n")
    return head.decode(), rest


EVENT_A = b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
EVENT_B = b'data: {"choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n'
DONE = b"data: [DONE]\n\n"
CHUNKED_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Custom-Header: Kept As Sent\r\n"
                b"Keep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n")
# One event in a chunk with an extension, one split across two chunks, two in one, trailers.
CHUNKED_BODY = [
    b"%x;ext=1\r\n%s\r\n" % (len(EVENT_A), EVENT_A),
    b"%x\r\n%s\r\n" % (10, EVENT_B[:10]),
    b"%x\r\n%s\r\n" % (len(EVENT_B) - 10, EVENT_B[10:]),
    b"%x\r\n%s\r\n" % (len(EVENT_A + DONE), EVENT_A + DONE),
    b"0\r\nX-Trailer: t\r\n\r\n",
]


def test_the_upstreams_bytes_reach_the_client_as_sent(start_record):
    up = ScriptedUpstream([([CHUNKED_HEAD] + CHUNKED_BODY, False)])
    rec = start_record(up.url)
    head, body = raw_call(rec.url)
    # The chunks as the upstream framed them, extension and trailer included.
    assert body == b"".join(CHUNKED_BODY)
    lines = head.split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "X-Custom-Header: Kept As Sent" in lines and "Transfer-Encoding: chunked" in lines
    assert not any(l.lower().startswith("keep-alive") for l in lines) and "connection: close" in lines
    # Upstream: the client's header lines as spelled, but host, accept-encoding and connection.
    [(up_head, up_body)] = up.requests
    assert up_body == BODY
    up_lines = up_head.split("\r\n")
    assert up_lines[0] == "POST /v1/chat/completions HTTP/1.1"
    assert f"host: {up.url.removeprefix('http://')}" in up_lines and "Content-Type: application/json" in up_lines
    assert not any(l.lower().startswith(("accept-encoding", "connection")) for l in up_lines)
    [line] = rec.lines(1)
    assert line["outcome"] == "completed"
    assert raw_bytes(line).encode() == EVENT_A + EVENT_B + EVENT_A + DONE
    assert line["result"]["text"] == "HelloHel"
    assert line["response"]["headers"]["x-custom-header"] == "Kept As Sent"


def test_bodies_delimited_by_length_or_by_closing(start_record):
    whole = b'{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}'
    up = ScriptedUpstream([
        ([b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(whole), whole[:20], whole[20:]], False),
        ([b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n", EVENT_A, EVENT_B, DONE], True),
    ])
    rec = start_record(up.url)
    head, body = raw_call(rec.url, body=BODY.replace(b'"stream": true', b'"stream": false'))
    assert body == whole and f"Content-Length: {len(whole)}" in head.split("\r\n")
    head, body = raw_call(rec.url)
    assert body == EVENT_A + EVENT_B + DONE and head.startswith("HTTP/1.1 200 OK\r\n")
    first, second = rec.lines(2)
    assert first["outcome"] == second["outcome"] == "completed"
    assert first["result"]["text"] == "ok" and second["result"]["text"] == "Hello"


def test_kept_alive_upstream_connections_the_upstream_dropped_are_replaced(start_record):
    """One client connection (so one proxy thread and its pool) makes four calls. The
    upstream hangs up on the second call's request without answering (it is sent again on
    a new connection) and after the third call's answer (the fourth gets a new one)."""
    answer = [CHUNKED_HEAD] + CHUNKED_BODY
    up = ScriptedUpstream([(answer, False), (None, True), (answer, False), (answer, True), (answer, False)])
    rec = start_record(up.url, "--no-upstream-check")
    with httpx.Client() as client:
        for _ in range(4):
            r = client.post(rec.url + "/v1/chat/completions", content=BODY)
            assert r.content == EVENT_A + EVENT_B + EVENT_A + DONE
            time.sleep(0.1)
    assert [l["outcome"] for l in rec.lines(4)] == ["completed"] * 4
    assert (up.connections, len(up.requests)) == (3, 5)


def test_a_connection_that_starts_on_another_route_records_its_calls_all_the_same(start_mock, start_record):
    """The openai SDK keeps one connection: its first request (GET /v1/models) is not a
    passthrough call, so the connection goes on through hyper's path."""
    mock = start_mock("--zero-delay", "--models", "alpha")
    rec = start_record(mock.url)
    client = openai.OpenAI(base_url=rec.url + "/v1", api_key="k", max_retries=0)
    assert [m.id for m in client.models.list()] == ["alpha"]
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="alpha", messages=[{"role": "user", "content": "hi"}], max_tokens=4, stream=True) if c.choices)
    client.chat.completions.create(model="alpha", messages=[{"role": "user", "content": "hi"}], max_tokens=3)
    first, second = rec.lines(2)
    assert first["result"]["text"] == text and first["timing"]["content_events"] == 4
    assert second["completion_tokens"] == 3 and second["outcome"] == "completed"

"""Every size a peer or a file declares is bounded (issue 15): the recording readers stream
their lines and keep little of each call, a line longer than 256 MiB or nested without end
is a FILE:LINE error (never an abort or a stack overflow), and `asb replay` stops reading an
answer that never ends at 256 MiB or at its --timeout. Real binary, loopback only; peak
memory is each child's own (os.wait4's ru_maxrss)."""

import json
import os
import socket
import subprocess
import threading
import time

import httpx

from conftest import asb_bin, spawn_asb

MIB = 1024 * 1024


# Runs a command as the child of a fresh, small Python and writes the child's peak RSS (KiB)
# to a file. Measured from pytest directly, a child's ru_maxrss would start at pytest's own
# resident size: Linux carries the forking process's high-water mark over the exec.
MEASURE = r"""
import os, sys
report, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execv(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as f:
    f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
os._exit(code if code >= 0 else 128 - code)
"""


def run_measured(*args, timeout=60):
    """Runs `asb ARGS` to its end: (exit code, stdout, stderr, peak RSS in MiB). Output goes
    to files, so a long one neither blocks the child nor sits in this process's memory."""
    import signal
    import sys
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r") as peak:
        proc = subprocess.Popen([sys.executable, "-c", MEASURE, peak.name, asb_bin(), *args], stdout=out,
                                stderr=err, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"asb {' '.join(args)} still running after {timeout} s")
        out.seek(0)
        err.seek(0)
        # The head of a long output is enough for the assertions.
        return code, out.read(1 << 20).decode(errors="replace"), err.read().decode(errors="replace"), \
            int(peak.read() or 0) / 1024


def short_lines(path, n):
    """`n` lines that parse, each a handful of bytes: what made the readers hold ≈ 1.7 KB a line."""
    with open(path, "w") as f:
        for seq in range(1, n + 1):
            f.write(f'{{"seq":{seq},"model":"m"}}\n')
    return path


def test_readers_keep_little_of_each_of_300k_short_lines(tmp_path):
    path = short_lines(tmp_path / "short.jsonl", 300_000)
    # Before: ≈ 1.7 KB a line held (≈ 520 MiB here for one file, twice that for diff).
    bounds = {
        ("validate",): 100,
        ("inspect",): 120,
        ("timeline", "--width", "80"): 120,
        ("diff",): 200,
    }
    for command, bound in bounds.items():
        files = [str(path), str(path)] if command == ("diff",) else [str(path)]
        code, out, err, peak = run_measured(*command, *files)
        assert code == 0, (command, out[-2000:], err)
        assert peak < bound, f"asb {command[0]} peaked at {peak:.0f} MiB on 300k short lines (bound {bound})"
    code, out, _, _ = run_measured("validate", str(path))
    assert out.endswith("ok: 300,000 lines\n") or out.endswith("ok: 300000 lines\n"), out[-200:]


def test_a_line_nested_without_end_is_a_file_line_error(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"seq":1,"model":"m"}\n' + "[" * 100_000 + "\n" + '{"seq":2,"messages":' * 100_000 + "\n")
    for command in ("validate", "inspect", "timeline", "diff"):
        files = [str(path), str(path)] if command == "diff" else [str(path)]
        code, out, err, _ = run_measured(command, *files)
        text = out + err
        assert code != 0 and code < 128, (command, code, text[-500:])  # an error, not a signal
        assert f"{path}:2: " in text and "recursion limit" in text, (command, text[-500:])


def test_a_line_past_256_mib_is_an_error_not_an_abort(tmp_path):
    path = tmp_path / "long.jsonl"
    with open(path, "wb") as f:
        f.write(b'{"seq":1,"model":"m"}\n{"seq":2,"model":"m","error":"')
        chunk = b"x" * MIB
        for _ in range(257):
            f.write(chunk)
        f.write(b'"}\n{"seq":3,"model":"m"}\n')
    code, out, err, peak = run_measured("validate", str(path))
    assert code == 1, (out, err)
    assert f"{path}:2: line longer than 256 MiB" in out, out
    assert out.endswith("3 lines, 1 problem\n"), out
    assert peak < 400, f"validate peaked at {peak:.0f} MiB skipping a 257 MiB line"
    code, out, err, _ = run_measured("inspect", str(path))
    assert code == 1 and f"{path}:2: line longer than 256 MiB" in err, (out, err)


def test_dev_zero_ends_with_a_clear_error():
    for command in ("inspect", "validate"):
        code, out, err, peak = run_measured(command, "/dev/zero", timeout=30)
        text = out + err
        assert code == 1, (command, code, text)
        assert "/dev/zero:1: line longer than 256 MiB" in text and "not a regular file" in text, text
        assert peak < 400, f"{command} /dev/zero peaked at {peak:.0f} MiB"


# ---- asb serve: a request nested without end -------------------------------------------


def test_serve_answers_a_deeply_nested_body_with_an_error(start_mock, start_record):
    mock = start_mock("--zero-delay")
    rec = start_record(mock.url)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    assert httpx.post(rec.url + "/v1/chat/completions", json=body, timeout=10).status_code == 200
    rec.lines(1)
    rec.stop()
    proc, url = spawn_asb("serve", "-P", "0", "-w", str(rec.path))
    try:
        for deep in ("[" * 100_000, '{"a":' * 100_000, "[" * 100_000 + "]" * 100_000):
            r = httpx.post(url + "/v1/chat/completions", content=deep, headers={"content-type": "application/json"},
                           timeout=10)
            assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
        # Still serving.
        assert httpx.post(url + "/v1/chat/completions", json=body, timeout=10).status_code == 200
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# ---- asb replay: an answer that never ends ---------------------------------------------


class EndlessUpstream:
    """Answers every request on 127.0.0.1 with a body that never ends (until the client
    hangs up): `json` (no length, no chunking: read to the close), `sse` (events of 64 KiB of
    text each), or `slow` (a JSON body trickling at 1 MiB every 50 ms)."""

    def __init__(self, kind):
        self.kind = kind
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopped = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn):
        seen = b""
        while b"\r\n\r\n" not in seen:
            data = conn.recv(65536)
            if not data:
                return
            seen += data
        content_type = b"text/event-stream" if self.kind == "sse" else b"application/json"
        event = b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "x" * 65536}}]}).encode() + \
            b"\n\n"
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\nconnection: close\r\n\r\n")
            if self.kind != "sse":
                conn.sendall(b'{"choices":[{"message":{"content":"')
            while not self.stopped:
                if self.kind == "sse":
                    conn.sendall(event * 16)
                elif self.kind == "json":
                    conn.sendall(b"x" * MIB)
                else:
                    conn.sendall(b"x" * MIB)
                    time.sleep(0.05)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopped = True
        self.sock.close()


def replay_against(upstream, tmp_path, timeout_s):
    out = tmp_path / f"run-{upstream.kind}.json"
    started = time.monotonic()
    code, stdout, stderr, peak = run_measured(
        "replay", "-e", upstream.url, "-m", "m", "-w", "builtin:trivial-qa", "--task", "largest-planet",
        "--max-retries", "0", "--timeout", str(timeout_s), "-o", str(out), timeout=timeout_s + 20)
    took = time.monotonic() - started
    assert out.exists(), stdout + stderr
    [request] = json.loads(out.read_text())["requests"]
    return code, request["error"], peak, took


def test_replay_stops_an_endless_answer_at_256_mib_or_its_timeout(tmp_path):
    for kind in ("json", "sse"):
        upstream = EndlessUpstream(kind)
        try:
            code, error, peak, took = replay_against(upstream, tmp_path, timeout_s=15)
        finally:
            upstream.stop()
        assert code == 1
        assert error and "longer than 256 MiB" in error, (kind, error)
        # Before: 5.26 GB within a 5 s timeout.
        assert peak < 600, f"replay of an endless {kind} answer peaked at {peak:.0f} MiB"
        assert took < 15, f"{kind}: {took:.1f} s"
    slow = EndlessUpstream("slow")
    try:
        code, error, peak, took = replay_against(slow, tmp_path, timeout_s=2)
    finally:
        slow.stop()
    assert code == 1 and error.startswith("timeout after 2.0 s"), error
    assert took < 10 and peak < 300, (took, peak)

"""Compressed recordings (`.jsonl.gz`, `.jsonl.zst`): `asb record -o x.jsonl.zst` writes one
frame per call, and every reader (serve, inspect, timeline, validate, diff, replay) reads
it as it reads plain JSONL, told by the bytes, not the name; a kill -9 during a compressed
recording loses only calls in flight, and the torn last frame is cut off when it is
recorded into again."""

import gzip
import json
import re
import shutil
import subprocess
import threading
import time

import openai
import pytest
import zstandard

from conftest import asb_bin, spawn_asb
from recorder import Recorder

CODECS = {"gz": b"\x1f\x8b", "zst": b"\x28\xb5\x2f\xfd"}


def asb(*args, check=True):
    p = subprocess.run([asb_bin(), *args], capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, f"asb {' '.join(args)} exited {p.returncode}: {p.stderr}"
    return p


def decompress(data: bytes) -> bytes:
    """Every whole frame of a compressed recording, in order (a torn last one left out)."""
    if data.startswith(CODECS["gz"]):
        out, d = [], None
        while data:
            d = __import__("zlib").decompressobj(31)
            out.append(d.decompress(data))
            if not d.eof:
                out.pop()  # a torn member
                break
            data = d.unused_data
        return b"".join(out)
    out = []
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    try:
        while chunk := reader.read(1 << 16):
            out.append(chunk)
    except zstandard.ZstdError:
        pass  # a torn frame: what came before it is whole
    return b"".join(out)


def session(base):
    o = openai.OpenAI(base_url=base + "/v1", api_key="sk-test-key-that-must-not-be-kept", max_retries=0)
    seen = []
    for i in range(3):
        seen.append(o.chat.completions.create(model="m", messages=[{"role": "user", "content": f"call {i}"}],
                                              max_tokens=8).choices[0].message.content)
    chunks = o.chat.completions.create(model="m", messages=[{"role": "user", "content": "stream"}], max_tokens=8,
                                       stream=True)
    seen.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
    return seen


@pytest.fixture(params=sorted(CODECS))
def compressed_session(request, start_mock, tmp_path):
    """A session recorded into rec.jsonl.<codec>: (path, what the client saw)."""
    ext = request.param
    mock = start_mock("--zero-delay")
    path = tmp_path / f"rec.jsonl.{ext}"
    proc, url = spawn_asb("record", "-e", mock.url, "-m", "asb-mock", "-o", str(path), "-P", "0")
    try:
        live = session(url)
    finally:
        proc.send_signal(2)
        proc.communicate(timeout=30)
    mock.stop()
    return path, live


def test_record_writes_compressed_and_every_reader_reads_it(compressed_session, start_mock, tmp_path):
    path, live = compressed_session
    data = path.read_bytes()
    codec = path.suffix[1:]
    assert data.startswith(CODECS[codec]), f"{path.name} is not {codec}: {data[:8]!r}"
    lines = [json.loads(l) for l in decompress(data).splitlines()]
    assert [l["seq"] for l in lines] == [1, 2, 3, 4]
    assert b"sk-test-key-that-must-not-be-kept" not in decompress(data)

    # serve answers from it, offline, as the live session was answered.
    proc, url = spawn_asb("serve", "-P", "0", "-w", str(path))
    try:
        assert session(url) == live
    finally:
        proc.terminate()
        proc.wait(10)

    asb("validate", str(path))
    inspect = asb("inspect", str(path)).stdout
    assert "4" in inspect and "calls" in inspect.lower(), inspect
    assert asb("timeline", str(path)).stdout.strip()
    # diff: the compressed recording against its plain copy has nothing to report.
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(decompress(data))
    same = asb("diff", str(path), str(plain)).stdout
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(json.dumps(l) for l in lines[:3]) + "\n")
    differs = asb("diff", str(path), str(other), check=False).stdout
    assert same != differs, "diff reads the compressed side: one call fewer must show"
    # replay takes it as a scenario, like the plain file.
    mock = start_mock("--zero-delay")
    out = tmp_path / "run.json"
    asb("replay", "-e", mock.url, "-m", "m", "-w", str(path), "-o", str(out))
    assert len(json.loads(out.read_text())["requests"]) == 4


def test_the_codec_is_told_by_the_bytes_and_damage_names_file_and_line(compressed_session, tmp_path):
    path, _ = compressed_session
    renamed = tmp_path / "renamed.jsonl"
    shutil.copy(path, renamed)
    assert asb("inspect", str(renamed)).returncode == 0
    # A torn last frame: validate names the line where the stream stops.
    data = path.read_bytes()
    torn = tmp_path / f"torn{path.suffix}"
    torn.write_bytes(data[:-7])
    p = asb("validate", str(torn), check=False)
    assert p.returncode == 1
    # Line 4's frame lost its end: the stream stops at line 4 (or, when only gzip's trailer
    # is cut, after it, at line 5).
    assert re.search(rf"{re.escape(str(torn))}:[45]: the \w+ stream ends inside a frame", p.stdout), p.stdout


@pytest.mark.parametrize("ext", sorted(CODECS))
def test_kill_9_during_a_compressed_recording_loses_only_calls_in_flight(start_mock, tmp_path, ext):
    """16 streaming clients against the zero-delay mock; kill -9 after 3 s. Every call
    finished over 0.5 s before the kill is in a whole frame; recording into the file again
    cuts the torn last frame off and appends after it."""
    mock = start_mock("--zero-delay")
    path = tmp_path / f"kill.jsonl.{ext}"
    proc, url = spawn_asb("record", "-e", mock.url, "-m", "asb-mock", "-o", str(path), "-P", "0")
    stop, lock, finished = threading.Event(), threading.Lock(), {}

    def client(n):
        c = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=30)
        i = 0
        while not stop.is_set():
            marker = f"client {n:02} call {i:05} " + "z" * 5_000
            try:
                for _ in c.chat.completions.create(model="m", messages=[{"role": "user", "content": marker}],
                                                   max_tokens=8, stream=True):
                    pass
            except Exception:
                return
            with lock:
                finished[marker[:20]] = time.monotonic()
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    time.sleep(3)
    killed_at = time.monotonic()
    proc.kill()
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    on_disk = {json.loads(l)["messages"][-1]["content"][:20] for l in decompress(path.read_bytes()).splitlines()}
    with lock:
        old = {m for m, t in finished.items() if t < killed_at - 0.5}
    assert len(finished) > 50, f"too little load to judge: {len(finished)} calls"
    assert not old - on_disk, f"{len(old - on_disk)} of {len(old)} calls finished before the kill are lost"

    # Recording into it again: a torn last frame is cut off, new calls follow whole ones.
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(CODECS[ext] + b"\x00torn")
    rec = Recorder.__new__(Recorder)
    rec.path = path
    rec.proc, rec.url = spawn_asb("record", "-e", mock.url, "-m", "asb-mock", "-o", str(path), "-P", "0")
    openai.OpenAI(base_url=rec.url + "/v1", api_key="x", max_retries=0).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "after the kill"}], max_tokens=4)
    _, err = rec.stop()
    assert "removed an incomplete last" in err, err
    assert asb("validate", str(path)).returncode == 0
    assert path.stat().st_size > size
    last = json.loads(decompress(path.read_bytes()).splitlines()[-1])
    assert last["messages"][-1]["content"] == "after the kill"


def test_serve_record_modes_write_compressed(start_mock, tmp_path):
    """`asb serve --mode all` into x.jsonl.zst records compressed; `new_episodes` appends
    frames to it; `none` serves all of it offline."""
    mock = start_mock("--zero-delay")
    path = tmp_path / "cassette.jsonl.zst"

    def serve(mode, *calls):
        proc, url = spawn_asb("serve", "-P", "0", "-w", str(path), "--mode", mode, "-e", mock.url, "-m", "asb-mock")
        try:
            o = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
            return [o.chat.completions.create(model="m", messages=[{"role": "user", "content": c}],
                                              max_tokens=6).choices[0].message.content for c in calls]
        finally:
            proc.send_signal(2)
            proc.communicate(timeout=30)

    first = serve("all", "one")
    assert path.read_bytes().startswith(CODECS["zst"])
    second = serve("new_episodes", "one", "two")
    assert second[0] == first[0]
    mock.stop()
    assert serve("none", "one", "two") == second
    assert [json.loads(l)["messages"][-1]["content"] for l in decompress(path.read_bytes()).splitlines()] == ["one", "two"]
    asb("validate", str(path))


def test_a_directory_serves_compressed_recordings_by_name(compressed_session, tmp_path):
    path, live = compressed_session
    d = tmp_path / "library"
    d.mkdir()
    shutil.copy(path, d / f"agent{path.name[len('rec'):]}")
    proc, url = spawn_asb("serve", "-P", "0", "-w", str(d))
    try:
        assert session(f"{url}/c/agent") == live
    finally:
        proc.terminate()
        proc.wait(10)

"""Fixtures that run the real `asb` binary as a user would and hand tests its URL.

The binary comes from $ASB_BIN, else target/release/asb, else target/debug/asb.
Real upstreams (llama.cpp server, Claude Code) come from upstreams.py.
"""

import json
import os
import pathlib
import re
import subprocess
import time

import pytest

import upstreams

ROOT = pathlib.Path(__file__).resolve().parents[2]


def fixtures_dir() -> pathlib.Path:
    """Recordings made by other tools (AgenticSwarmBench's scenarios…): $ASB_FIXTURES,
    default ../shared/fixtures beside the repository."""
    return pathlib.Path(os.environ.get("ASB_FIXTURES") or ROOT.parent / "shared" / "fixtures")


def require_fixture(relative: str) -> pathlib.Path:
    """A fixture file or folder; the test is skipped, with the reason in the summary, when
    it is absent (a clone with nothing beside it). CI has them and runs these tests."""
    path = fixtures_dir() / relative
    if not path.exists():
        pytest.skip(f"fixture {relative} not found under {fixtures_dir()} (set ASB_FIXTURES to the fixtures folder)")
    return path


def asb_bin() -> str:
    if os.environ.get("ASB_BIN"):
        return os.environ["ASB_BIN"]
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "asb"
        if p.exists():
            return str(p)
    raise RuntimeError("build asb first (cargo build --release) or set ASB_BIN")


def pinned(cpu):
    """A command prefix running on one CPU (`taskset -c N`), or nothing when it cannot be
    done (one core, no taskset): for timing checks where client and server must not take
    each other's core, as they would not on two machines."""
    import shutil

    if cpu is None or not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", str(cpu)]


def spawn_asb(*args, cpu=None):
    """Starts `asb ARGS` (a server listening on -P 0) and returns (process, its base URL),
    read from the first line it prints."""
    cmd = [*pinned(cpu), asb_bin(), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"asb {args[0]} did not start: {line!r} {proc.stderr.read()}")
    return proc, m.group(0)


class Mock:
    """A running `asb mock -P 0 ...` with its truth log."""

    def __init__(self, args, tmp_path, cpu=None):
        self.truth_path = tmp_path / f"truth-{time.monotonic_ns()}.jsonl"
        self.proc, self.url = spawn_asb("mock", "-P", "0", "--truth-log", str(self.truth_path), *args, cpu=cpu)

    def truth(self, expect=None, timeout=5.0):
        """Truth records so far; waits until at least `expect` are on disk."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.truth_path.read_text().splitlines() if self.truth_path.exists() else []
            records = [json.loads(l) for l in lines]
            if expect is None or len(records) >= expect or time.monotonic() > deadline:
                return sorted(records, key=lambda r: r["seq"])
            time.sleep(0.02)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def start_mock(tmp_path):
    started = []

    def start(*args, cpu=None):
        m = Mock(list(args), tmp_path, cpu=cpu)
        started.append(m)
        return m

    yield start
    for m in started:
        m.stop()


@pytest.fixture
def fast_mock(start_mock):
    """A mock with no delays: for shape tests."""
    return start_mock("--zero-delay")


@pytest.fixture
def start_record(tmp_path):
    """Starts `asb record -e ENDPOINT ...`; stopped with Ctrl+C at the end of the test."""
    from recorder import Recorder

    started = []

    def start(endpoint, *args, **kw):
        r = Recorder(endpoint, tmp_path, *args, **kw)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


# ---- Real upstreams (see upstreams.py): a llama.cpp server and Claude Code.


@pytest.fixture(scope="session")
def llama_server():
    """A real llama.cpp server on 127.0.0.1 for the whole session (.url, .model, .pid)."""
    upstreams.require_upstreams()
    try:
        server = upstreams.LlamaServer.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def capped_llama_server():
    """A llama.cpp server of its own whose answers stop after 40 tokens: the agents that send
    no output limit (Codex, opencode) would otherwise run a tiny model to its context's end."""
    upstreams.require_upstreams()
    before = os.environ.get("ASB_UPSTREAM_N_PREDICT")
    os.environ["ASB_UPSTREAM_N_PREDICT"] = "40"
    try:
        server = upstreams.LlamaServer.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(str(e), pytrace=False)
    finally:
        if before is None:
            del os.environ["ASB_UPSTREAM_N_PREDICT"]
        else:
            os.environ["ASB_UPSTREAM_N_PREDICT"] = before
    yield server
    server.stop()


@pytest.fixture(scope="session")
def claude_code():
    """The installed Claude Code CLI: .path, .run(base_url, prompt, *, cwd, ...), .new_home()."""
    upstreams.require_upstreams()
    try:
        return upstreams.ClaudeCode(upstreams.claude_bin())
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)

"""Helpers that run REAL upstream software for end-to-end tests.

- `LlamaServer`: llama.cpp's HTTP server with a tiny model on 127.0.0.1, started and
  stopped through the repository's own scripts/llama-upstream.sh (installed by
  scripts/install-upstreams.sh).
- `ClaudeCode` / `run_claude`: the Claude Code CLI run headless (`-p`) with an env that
  keeps it offline (only ANTHROPIC_BASE_URL is contacted) and its output bounded.

Tests skip only when ASB_SKIP_UPSTREAMS=1; otherwise a missing upstream is a failure.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Any, NamedTuple, Sequence

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SKIP_ENV = "ASB_SKIP_UPSTREAMS"
INSTALL_HINT = "run: bash scripts/install-upstreams.sh"
CLAUDE_VERSION = "2.1.197"
CLAUDE_MAX_OUTPUT_TOKENS = 200


# ---------------------------------------------------------------- common


def require_upstreams() -> None:
    """Skip the calling test/fixture if the user opted out of real upstreams."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: real upstreams (llama.cpp server, Claude Code) not used")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- llama.cpp server


def llama_script() -> pathlib.Path:
    return ROOT / "scripts" / "llama-upstream.sh"


def upstream_dir() -> pathlib.Path:
    """Where llama-upstream.sh keeps its venv, pid files and logs."""
    default = pathlib.Path.home() / ".cache" / "asb-upstream"
    return pathlib.Path(os.environ.get("ASB_UPSTREAM_DIR") or default)


def models_answer(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v1/models", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


class LlamaServer:
    """A llama.cpp server this process started on 127.0.0.1:PORT.

    `.url` is the base (OpenAI clients use `{url}/v1`, Anthropic clients `{url}`),
    `.model` the alias it answers with, `.pid` its process, `.log_path` its log.
    """

    def __init__(self, port: int, model: str):
        self.port = port
        self.model = model
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = upstream_dir() / f"server-{port}.log"
        self.pid: int | None = None

    @classmethod
    def start(cls, port: int | None = None, timeout: float = 150.0) -> "LlamaServer":
        """Starts the server and waits until /v1/models answers; raises with the log tail."""
        script = llama_script()
        if not script.is_file():
            raise RuntimeError(f"{script} not found")
        server = cls(port or free_port(), os.environ.get("ASB_UPSTREAM_MODEL", "smollm2"))
        proc = subprocess.run(
            ["bash", str(script), "start", str(server.port)],
            capture_output=True, text=True, timeout=timeout,
        )
        server.pid = server._read_pid()
        if proc.returncode != 0 or not server._wait_ready(deadline=time.monotonic() + 10):
            server.stop()
            raise RuntimeError(
                f"llama.cpp server did not start on {server.url} (exit {proc.returncode}; "
                f"{INSTALL_HINT} if not installed)\nstdout: {proc.stdout}\nstderr: {proc.stderr}\n"
                f"log {server.log_path} (tail):\n{server.log_tail()}"
            )
        return server

    def _read_pid(self) -> int | None:
        pidfile = upstream_dir() / f"server-{self.port}.pid"
        try:
            return int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def _wait_ready(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if models_answer(self.url):
                return True
            time.sleep(0.2)
        return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as e:
            return f"(no log: {e})"

    def stop(self) -> None:
        """Stops only the server on our port (llama-upstream.sh checks the pid is its own)."""
        subprocess.run(
            ["bash", str(llama_script()), "stop", str(self.port)],
            capture_output=True, text=True, timeout=30,
        )
        self.pid = None


# ---------------------------------------------------------------- Claude Code


def claude_prefix() -> pathlib.Path:
    default = pathlib.Path.home() / ".cache" / "asb-claude"
    return pathlib.Path(os.environ.get("ASB_CLAUDE_PREFIX") or default)


def claude_bin() -> pathlib.Path:
    """The installed `claude` binary; raises with an install hint if it is missing."""
    path = claude_prefix() / "bin" / "claude"
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"Claude Code not installed at {path}; {INSTALL_HINT}")
    return path


class ClaudeRun(NamedTuple):
    """What one headless run gave: unpacks as (returncode, output, stdout, stderr)."""

    returncode: int
    output: dict[str, Any] | None  # the parsed `--output-format json` result, if any
    stdout: str
    stderr: str


class ClaudeTimeout(AssertionError):
    """A run exceeded its timeout; its whole process group was killed."""


def claude_env(
    base_url: str, home: str | os.PathLike, max_output_tokens: int = CLAUDE_MAX_OUTPUT_TOKENS
) -> dict[str, str]:
    """The env that keeps Claude Code offline and bounded (see shared/upstreams/claude-code.md)."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "CLAUDECODE"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(
        HOME=str(home),
        ANTHROPIC_BASE_URL=base_url,
        ANTHROPIC_API_KEY="dummy",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        CLAUDE_CODE_MAX_OUTPUT_TOKENS=str(max_output_tokens),
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def token_cap_error(max_output_tokens: int = CLAUDE_MAX_OUTPUT_TOKENS) -> str:
    """Claude Code's error text when every (re)try of a reply hit the output token cap."""
    return f"exceeded the {max_output_tokens} output token maximum"


def parse_json_output(stdout: str) -> dict[str, Any] | None:
    """The JSON result object Claude Code printed, or None if there is none."""
    for text in (stdout.strip(), *reversed(stdout.strip().splitlines())):
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def new_claude_home() -> pathlib.Path:
    """A fresh, empty HOME for Claude Code (its ~/.claude.json and ~/.claude/ land there)."""
    return pathlib.Path(tempfile.mkdtemp(prefix="asb-claude-home-"))


def run_claude(
    base_url: str,
    prompt: str,
    *,
    cwd: str | os.PathLike,
    home: str | os.PathLike | None = None,
    extra_args: Sequence[str] = (),
    continue_session: bool = False,
    model: str = "smollm2",
    max_output_tokens: int = CLAUDE_MAX_OUTPUT_TOKENS,
    timeout: float = 180.0,
    claude: str | os.PathLike | None = None,
    tools: str | None = "",
    bare: bool = True,
) -> ClaudeRun:
    """Runs `claude -p PROMPT --bare --tools "" --model MODEL --output-format json` headless.

    `tools=None` leaves `--tools` out, so Claude Code sends its default tool set (the bare
    one; with `bare=False`, its full default tools and system prompt, as users run it).

    `base_url` is the Anthropic base (no /v1). Without `home` each call gets a fresh temp
    HOME (removed afterwards). For a multi-turn conversation pass the same `home` and
    `cwd` to every turn and `continue_session=True` from the second turn on: Claude Code
    keeps sessions in HOME/.claude/projects/<cwd>/ and `--continue` picks the latest.
    `max_output_tokens` caps each reply (CLAUDE_CODE_MAX_OUTPUT_TOKENS); a reply that hits
    it is retried up to 3 times, then the run exits 1 with token_cap_error(cap) in `result`.
    On timeout the process group is killed and ClaudeTimeout is raised.
    """
    if continue_session and home is None:
        raise ValueError("continue_session needs the `home` of the earlier turn(s)")
    own_home = home is None
    home_dir = new_claude_home() if own_home else pathlib.Path(home)
    args = [str(claude or claude_bin()), "-p", prompt, *(["--bare"] if bare else []), "--model", model,
            "--output-format", "json"]
    if tools is not None:
        args += ["--tools", tools]
    if continue_session:
        args.append("--continue")
    args += list(extra_args)
    try:
        env = claude_env(base_url, home_dir, max_output_tokens)
        return _run_bounded(args, cwd, env, timeout)
    finally:
        if own_home:
            shutil.rmtree(home_dir, ignore_errors=True)


def _run_bounded(args: list[str], cwd, env: dict[str, str], timeout: float) -> ClaudeRun:
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        stdout, stderr = proc.communicate()
        raise ClaudeTimeout(
            f"claude timed out after {timeout:.0f}s (process group killed)\n"
            f"stdout: {stdout[-2000:]}\nstderr: {stderr[-2000:]}"
        ) from None
    finally:
        if proc.poll() is None:
            _kill_group(proc.pid)
            proc.wait()
    return ClaudeRun(proc.returncode, parse_json_output(stdout), stdout, stderr)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class ClaudeCode:
    """The installed Claude Code: `.path` to the binary, `.run(...)` = run_claude with it."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.version = CLAUDE_VERSION

    def new_home(self) -> pathlib.Path:
        return new_claude_home()

    def run(self, base_url: str, prompt: str, **kwargs) -> ClaudeRun:
        return run_claude(base_url, prompt, claude=self.path, **kwargs)

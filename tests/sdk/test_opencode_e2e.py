"""A third agent family, on Chat Completions: opencode (npm `opencode-ai`, pinned) run
headless (`opencode run`) through `asb record` against the real llama.cpp server, its
calls forwarded byte for byte; the recording looked at with `asb inspect` / `asb validate`,
replayed through every API path against the built-in mock, then served by `asb serve` with
no upstream while opencode runs the same prompt again — and answers the same.

opencode is configured as its documentation says for an OpenAI-compatible provider
(`@ai-sdk/openai-compatible` with a `baseURL`), in a throwaway HOME, offline (no
autoupdate, no sharing). It asks for up to 32,000 tokens; the server caps each answer at 40
(`ASB_UPSTREAM_N_PREDICT`), so a tiny CPU model answers each call in about a minute."""

import json
import os
import pathlib
import subprocess
import time

import pytest

import upstreams
from conftest import asb_bin

OPENCODE_VERSION = "1.18.33"
PROMPT = "Say in one sentence what calc.py is for."


def opencode_bin() -> pathlib.Path:
    prefix = pathlib.Path(os.environ.get("ASB_OPENCODE_PREFIX") or pathlib.Path.home() / ".cache" / "asb-opencode")
    path = prefix / "bin" / "opencode"
    if not path.exists():
        pytest.fail(f"opencode not installed at {path}: {upstreams.INSTALL_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="module")
def opencode():
    upstreams.require_upstreams()
    path = opencode_bin()
    version = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    assert version == OPENCODE_VERSION, version
    return path


def run_opencode(opencode, base_url, work, home, model, timeout=600):
    """`opencode run PROMPT` in `work` (its opencode.json names the provider at `base_url`)."""
    (work / "opencode.json").write_text(json.dumps({
        "$schema": "https://opencode.ai/config.json",
        "provider": {"asb": {"npm": "@ai-sdk/openai-compatible", "name": "asb",
                             "options": {"baseURL": f"{base_url}/v1", "apiKey": "sk-asb-opencode-test-key"},
                             "models": {model: {"name": model}}}},
        "model": f"asb/{model}", "autoupdate": False, "share": "disabled",
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPENCODE_", "XDG_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(home / ".cache"), OPENCODE_DISABLE_AUTOUPDATE="1",
               PWD=str(work))  # opencode takes its directory from $PWD, not its working directory
    done = subprocess.run([str(opencode), "run", "-m", f"asb/{model}", PROMPT], cwd=work, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout.strip()


def asb(*args, timeout=600):
    return subprocess.run([asb_bin(), *args], capture_output=True, text=True, timeout=timeout)


def test_opencode_recorded_replayed_and_served_offline(capped_llama_server, opencode, start_record, tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    (work / "calc.py").write_text('def add(a, b):\n    """Return a + b."""\n    return a - b\n')
    model = capped_llama_server.model

    rec = start_record(capped_llama_server.url, model=model)
    live = run_opencode(opencode, rec.url, work, tmp_path / "home-live", model)
    code, summary = rec.stop()
    assert code == 130, summary
    lines = [json.loads(l) for l in rec.path.read_text().splitlines()]
    # opencode may give up its side call (the session title, the user's prompt quoted) while
    # the CPU model is busy with the answer; the recorder keeps it as the agent left it.
    outcomes = [(l["outcome"], l["request"]["body"]["messages"][-1]["content"]) for l in lines]
    assert any(o == "completed" for o, _ in outcomes), outcomes
    assert all(o == "completed" or (o == "client_disconnected" and str(c).startswith('"')) for o, c in outcomes), outcomes
    assert all(l["source_api"] == "openai" and "upstream" not in l for l in lines), "forwarded byte for byte"
    assert any(l["request"]["body"].get("tools") for l in lines), "opencode's tools are recorded"
    assert "sk-asb-opencode-test-key" not in rec.path.read_text()

    inspect = asb("inspect", str(rec.path), "--json")
    assert inspect.returncode == 0, inspect.stderr
    validate = asb("validate", str(rec.path))
    assert validate.returncode == 0, validate.stdout + validate.stderr
    for api in ("openai", "anthropic", "responses"):
        p = asb("replay", "-e", "builtin", "-w", str(rec.path), "--upstream-api", api, "--max-tokens", "16")
        assert p.returncode == 0 and f"{len(lines)}/{len(lines)} ok" in p.stdout, p.stdout + p.stderr

    # Served on another day: opencode's prompt says `Today's date: Thu Dec 03 2026`
    # (JavaScript's toDateString); a recording made a year ago must still answer today.
    today = f"Today's date: {time.strftime('%a %b %d %Y')}"
    recorded = rec.path.read_text()
    assert today in recorded, "opencode's prompt carries the date"
    a_year_ago = tmp_path / "a-year-ago.jsonl"
    a_year_ago.write_text(recorded.replace(today, "Today's date: Tue Dec 02 2025"))
    serve = subprocess.Popen([asb_bin(), "serve", "-w", str(a_year_ago), "-P", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        url = serve.stdout.readline().split()[-1]
        offline = run_opencode(opencode, url, work, tmp_path / "home-offline", model)
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=10)
    assert offline == live, err[-3000:]

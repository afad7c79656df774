"""OpenAI's Codex CLI (`codex exec`, headless) through the whole loop, like the Claude Code
test: a two-turn Codex session recorded through `asb record` against a real llama.cpp
server (Codex speaks only the Responses API; the server has Chat Completions, so record
translates), looked at with `asb inspect` / `asb validate`, replayed through every API
path, then served by `asb serve` with no upstream while Codex runs the same prompts
again — and answers the same.

Codex is configured as its documentation says for a custom provider: `base_url`,
`wire_api = "responses"`, the key's environment variable, and WebSockets on, so its
WebSocket attempt is made and must be refused at once (Codex then falls back to HTTP).
Its prompt is kept small (a one-line `model_instructions_file`, optional tools off) and
the server caps each answer (`ASB_UPSTREAM_N_PREDICT`: Codex sends no max tokens), so a
tiny CPU model answers each call in well under a minute. The model's words are nonsense
and its capped answers end `incomplete` (Codex then exits 1): assertions are on the
recorded traffic and on the offline run reproducing the live one."""

import json
import os
import pathlib
import subprocess
import time

import pytest

import upstreams
from conftest import asb_bin

CODEX_VERSION = "0.171.0"
PROMPTS = ["Read calc.py and say in one sentence what add() does.", "Is there a bug in add()? One sentence."]
# Features that add tools or developer messages a tiny model has no use for, or reach the
# network (plugins, apps).
DISABLED = ["multi_agent", "goals", "apps", "plugins", "image_generation", "browser_use", "computer_use",
            "view_image", "tool_suggest", "skill_search", "hooks"]
KEY_ENV = "ASB_CODEX_KEY"


def codex_bin() -> pathlib.Path:
    prefix = pathlib.Path(os.environ.get("ASB_CODEX_PREFIX") or pathlib.Path.home() / ".cache" / "asb-codex")
    path = prefix / "bin" / "codex"
    if not path.exists():
        pytest.fail(f"Codex CLI not installed at {path}: {upstreams.INSTALL_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="module")
def codex():
    upstreams.require_upstreams()
    path = codex_bin()
    version = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    assert version == f"codex-cli {CODEX_VERSION}", version
    return path


def codex_home(tmp_path, base_url, model) -> pathlib.Path:
    """CODEX_HOME with the custom provider pointing at `base_url` (the same home for the
    live and the offline run: Codex names it in its prompt)."""
    home = tmp_path / "codex-home"
    home.mkdir(exist_ok=True)
    (home / "instructions.md").write_text("You are a coding agent. Answer in one short sentence.\n")
    (home / "config.toml").write_text(
        f'model = "{model}"\n'
        'model_provider = "asb"\n'
        f'model_instructions_file = "{home / "instructions.md"}"\n'
        'web_search = "disabled"\n'
        "check_for_update_on_startup = false\n\n"
        "[model_providers.asb]\n"
        'name = "asb"\n'
        f'base_url = "{base_url}/v1"\n'
        f'env_key = "{KEY_ENV}"\n'
        'wire_api = "responses"\n'
        "supports_websockets = true\n"
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )
    return home


def run_codex(codex, home, work, prompt, resume, timeout=300):
    args = [str(codex), "exec", *(["resume", "--last"] if resume else []), "--skip-git-repo-check"]
    for feature in DISABLED:
        args += ["--disable", feature]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
    # Codex's client logs at warn level say when it gives up the WebSocket for HTTP.
    env.update(CODEX_HOME=str(home), RUST_LOG="codex_core::client=warn", **{KEY_ENV: "sk-asb-codex-test-key"})
    t = time.monotonic()
    done = subprocess.run([*args, prompt], cwd=work, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return done, time.monotonic() - t


def run_session(codex, home, work):
    return [run_codex(codex, home, work, p, resume=i > 0) for i, p in enumerate(PROMPTS)]


def outcome(run):
    done, _ = run
    return done.returncode, done.stdout.strip()


def asb(*args, timeout=600):
    return subprocess.run([asb_bin(), *args], capture_output=True, text=True, timeout=timeout)


def test_codex_recorded_replayed_and_served_offline(capped_llama_server, codex, start_record, tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    (work / "calc.py").write_text('def add(a, b):\n    """Return a + b."""\n    return a - b\n')

    # 1. Record, translated to Chat Completions for the llama.cpp server.
    rec = start_record(capped_llama_server.url, model=capped_llama_server.model)
    home = codex_home(tmp_path, rec.url, capped_llama_server.model)
    live = run_session(codex, home, work)
    assert all("POST /v1/responses" not in r[0].stderr for r in live)
    # The WebSocket attempt was refused at once: Codex fell back to HTTP without waiting.
    assert "falling back to HTTP" in live[0][0].stderr, live[0][0].stderr[-2000:]
    code, summary = rec.stop()
    assert code == 130, summary
    every = [json.loads(l) for l in rec.path.read_text().splitlines()]
    lines = [l for l in every if l["outcome"] == "completed"]
    assert len(lines) >= 2, [(l["outcome"], l.get("error")) for l in every]
    assert all(l["source_api"] == "responses" and l["request"]["path"].endswith("/responses") for l in lines)
    assert all(l["upstream"]["request"]["path"] == "/v1/chat/completions" for l in lines)
    first, last = lines[0]["request"]["body"], lines[-1]["request"]["body"]
    assert first["tools"] and first["input"], "Codex's real tools and input items are recorded"
    assert len(last["input"]) > len(first["input"]), "the conversation grows turn by turn"
    assert len({l["thread_id"] for l in lines}) == 1, "one Codex session, one thread"
    assert all(l["usage"]["input_tokens"] > 0 and l["result"]["text"] for l in lines)
    # The result is the upstream's own words (Chat's finish reason); Codex got the
    # Responses end that says the same (an answer cut at the server's cap is incomplete).
    ends = {"length": "event: response.incomplete", "stop": "event: response.completed",
            "tool_calls": "event: response.completed"}
    for l in lines:
        assert ends[l["result"]["stop_reason"]] in l["response"]["events"][-1]["raw"], l["result"]["stop_reason"]
    assert "sk-asb-codex-test-key" not in rec.path.read_text()

    # 2. Look inside.
    inspect = asb("inspect", str(rec.path), "--json")
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["calls"]["total"] == len(every)
    validate = asb("validate", str(rec.path))
    assert validate.returncode == 0, validate.stdout + validate.stderr

    # 3. Replay on every API path: Chat and Messages against the llama.cpp server, Responses
    #    against the built-in mock (the server's own Responses support is minimal).
    for api, endpoint in (("openai", capped_llama_server.url), ("anthropic", capped_llama_server.url),
                          ("responses", "builtin")):
        out = tmp_path / f"replay-{api}.json"
        p = asb("replay", "-e", endpoint, "-m", capped_llama_server.model, "-w", str(rec.path), "--upstream-api", api,
                "--max-tokens", "16", "-o", str(out))
        assert p.returncode == 0, p.stdout + p.stderr
        run = json.loads(out.read_text())
        assert len(run["requests"]) == len(every) and all(r["ok"] for r in run["requests"]), api

    # 4. Serve with no upstream: the same prompts, the same answers. What Codex varies from
    #    run to run (session and turn ids, its conversation key, message ids, dates) is
    #    serve's matching rules, not an edit of the recording.
    serve = subprocess.Popen([asb_bin(), "serve", "-w", str(rec.path), "-P", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        url = serve.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:"), url
        home = codex_home(tmp_path, url, capped_llama_server.model)
        offline = run_session(codex, home, work)
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=10)
    for turn, (a, b) in enumerate(zip(live, offline)):
        assert outcome(b) == outcome(a), f"turn {turn}: {b[0].stderr[-2000:]}\n{err[-3000:]}"
    # Offline, each turn is quick: nothing waited on a WebSocket or an upstream.
    assert all(seconds < 30 for _, seconds in offline), [s for _, s in offline]

"""The whole promise, with the agent users actually run: a fresh multi-turn Claude Code
session recorded through `asb record` against a real llama.cpp server, looked at with
`asb inspect` / `asb validate`, replayed against that server through both API paths and
against `asb mock`, then served by `asb serve` with no upstream while Claude Code runs the
same prompts again — and answers the same.

The tiny model's words are nonsense and it sometimes runs into Claude Code's output cap
(the run then exits 1 after asking it to continue): assertions are on the recorded traffic
and on the offline run reproducing the live one, whatever the live outcome was."""

import json
import subprocess

from conftest import asb_bin

PROMPTS = ["Read calc.py and say in one sentence what add() does.", "Is there a bug in add()? One sentence."]


def asb(*args, timeout=600):
    return subprocess.run([asb_bin(), *args], capture_output=True, text=True, timeout=timeout)


def run_session(claude_code, base_url, work, home):
    """Both prompts in one conversation (`--continue`), as users run Claude Code: its full
    default tools and system prompt (no --bare)."""
    runs = []
    for i, prompt in enumerate(PROMPTS):
        runs.append(claude_code.run(base_url, prompt, cwd=work, home=home, tools=None, bare=False,
                                    continue_session=i > 0, timeout=600))
    return runs


def outcome(run):
    return run.returncode, (run.output or {}).get("result")


def test_claude_code_recorded_replayed_and_served_offline(llama_server, claude_code, start_record, tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    (work / "calc.py").write_text('def add(a, b):\n    """Return a + b."""\n    return a - b\n')

    # 1. Record.
    rec = start_record(llama_server.url, model=llama_server.model)
    live = run_session(claude_code, rec.url, work, claude_code.new_home())
    rec.lines(2)
    code, summary = rec.stop()
    assert code == 130, summary  # stopped by Ctrl+C, as a shell reports it
    recording = rec.path
    # Every line, read after the recorder stopped: on a slow machine Claude Code may give up
    # on a call and send it again, and that call's line (client gone) is part of the file.
    every = [json.loads(l) for l in recording.read_text().splitlines()]
    lines = [l for l in every if l["outcome"] == "completed"]
    assert len(lines) >= 2 and all(l["outcome"] in ("completed", "client_disconnected") for l in every), \
        [l["outcome"] for l in every]
    first, last = lines[0]["request"]["body"], lines[-1]["request"]["body"]
    assert first["system"] and first["tools"], "the real system prompt and tool definitions are recorded"
    assert len(last["messages"]) > len(first["messages"]), "the context grows turn by turn"
    assert len({l["thread_id"] for l in lines}) == 1

    # 2. Look inside.
    inspect = asb("inspect", str(recording), "--json")
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["calls"]["total"] == len(every)
    validate = asb("validate", str(recording))
    assert validate.returncode == 0, validate.stdout + validate.stderr

    # 3. Replay: the real server on both paths (output bounded, and said so), then the mock.
    for api in ("openai", "anthropic"):
        out = tmp_path / f"replay-{api}.json"
        p = asb("replay", "-e", llama_server.url, "-m", llama_server.model, "-w", str(recording), "--upstream-api", api,
                "--max-tokens", "32", "--cache-mode", "allwarm", "-o", str(out))
        assert p.returncode == 0, p.stdout + p.stderr
        assert "max_tokens: capped at 32 by --max-tokens" in p.stdout
        run = json.loads(out.read_text())
        assert len(run["requests"]) == len(every) and all(r["ok"] for r in run["requests"])
        assert all(r["completion_source"] == "usage" and r["prompt_tokens"] > 0 for r in run["requests"])
    p = asb("replay", "-e", "builtin", "-w", str(recording), "-r", "2")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{2 * len(every)}/{2 * len(every)} ok" in p.stdout

    # 4. Serve with no upstream: the same prompts, the same answers. What Claude Code varies
    #    from run to run (session and user ids, dates, build hashes, and here the HOME in its
    #    memory path: a new one) is serve's matching rules, not an edit of the recording.
    serve = subprocess.Popen([asb_bin(), "serve", "-w", str(recording), "-P", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        url = serve.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:"), url
        offline = run_session(claude_code, url, work, claude_code.new_home())
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=10)
    for turn, (a, b) in enumerate(zip(live, offline)):
        assert outcome(b) == outcome(a), f"turn {turn}: {err[-3000:]}"

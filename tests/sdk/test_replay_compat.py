"""AgenticSwarmBench (the original asb) users keep their command lines and files: its
remaining replay flags (--enable-thinking, --model-context-length, -V/--verbose-text,
--config YAML), its scenarios' answer checks (`evaluate`), and `--cache-mode
realistic-compat`, whose bodies are checked here against the original algorithm written
out in Python with CPython's own `random` (the mask's source)."""

import json
import os
import random
import signal
import socket
import subprocess

import httpx

from conftest import asb_bin

MESSAGES = [{"role": "user", "content": "Which file holds the parser, and what does it do?"}]


def asb(*args, env=None, timeout=120):
    return subprocess.run([asb_bin(), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def write_lines(path, conversations, max_tokens=8):
    path.write_text("".join(json.dumps({"seq": seq, "messages": m, "model": "rec", "max_tokens": max_tokens,
                                        "stream": True}) + "\n" for seq, m in enumerate(conversations, 1)))
    return path


def scenario_dir(tmp_path, tasks):
    """A scenario directory: {task id: (conversations, evaluate)}."""
    folder = tmp_path / "scenario"
    folder.mkdir()
    manifest = {"name": "compat", "tasks": []}
    for task_id, (conversations, checks) in tasks.items():
        write_lines(folder / f"{task_id}.jsonl", conversations)
        manifest["tasks"].append({"id": task_id, "name": task_id.title(), "recording": f"{task_id}.jsonl",
                                  **({"evaluate": checks} if checks else {})})
    (folder / "scenario.json").write_text(json.dumps(manifest))
    return folder


# ---- Answer checks ---------------------------------------------------------------------


def test_answer_checks_run_on_the_endpoints_answers(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "6")
    two_turns = [MESSAGES, MESSAGES + [{"role": "assistant", "content": "src/parse.rs"},
                                       {"role": "user", "content": "And its tests?"}]]
    folder = scenario_dir(tmp_path, {
        # Any word passes; "@@@" never appears in the mock's words.
        "answers": (two_turns, [{"type": "regex", "pattern": "\\w"},
                                {"type": "contains", "value": "@@@", "case_sensitive": False}]),
        "second-turn": (two_turns, [{"type": "regex", "pattern": "\\w", "seq": 2},
                                    {"type": "llm", "prompt": "Is the answer right?"}]),
        "missing-seq": (two_turns[:1], [{"type": "contains", "value": "x", "seq": 9}]),
        "no-checks": (two_turns[:1], None),
    })
    out = tmp_path / "run.md"
    p = asb("replay", "-e", mock.url, "-m", "m", "-w", str(folder), "-r", "2", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert "Answer checks: 5 on 3 task(s)" in p.stdout
    run = json.loads(out.with_suffix(".json").read_text())
    checks = run["answer_checks"]
    by_task = {}
    for e in checks["executions"]:
        by_task.setdefault(e["task_id"], []).append(e)
    assert set(by_task) == {"answers", "second-turn", "missing-seq"} and all(len(v) == 2 for v in by_task.values())
    for e in by_task["answers"]:
        assert e["passed"] is False
        assert [c["passed"] for c in e["checks"]] == [True, False]
        assert e["checks"][0]["detail"] == "matched at seq 1"
        assert e["checks"][1]["detail"] == "no match"
    for e in by_task["second-turn"]:
        assert e["passed"] is True, e
        assert e["checks"][0]["detail"] == "matched at seq 2"
        assert e["checks"][1]["passed"] is None and e["checks"][1]["detail"].startswith("not run")
    assert all(e["checks"][0]["detail"] == "seq 9 not seen" for e in by_task["missing-seq"])
    assert (checks["passed"], checks["judged"]) == (2, 6)
    assert "Answer checks (the scenario's evaluate directives, on the endpoint's answers): 2 of 6" in p.stdout
    assert "FAIL answers (execution 0): contains(@@@, any case): no match" in p.stdout
    markdown = out.read_text()
    assert "## Answer checks" in markdown and "| `second-turn` | 1 | pass |" in markdown


def test_answer_checks_survive_the_cache_modes_and_slicing(start_mock, tmp_path):
    """AgenticSwarmBench drops `evaluate` when it poisons or slices; here they still run."""
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    for mode in ("realistic", "allcold", "realistic-compat"):
        out = tmp_path / f"{mode}.json"
        p = asb("replay", "-e", mock.url, "-m", "m", "-w", "builtin:trivial-qa", "--cache-mode", mode,
                "--slice-tokens", "1000", "-o", str(out))
        assert p.returncode == 0, p.stderr
        checks = json.loads(out.read_text())["answer_checks"]
        assert checks["judged"] == 5 and {e["task_id"] for e in checks["executions"]} == {
            "capital-of-france", "largest-planet", "boiling-point", "speed-of-light", "binary-to-decimal"}


# ---- --model-context-length ------------------------------------------------------------


def test_model_context_length_leaves_long_requests_out(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4", "--context-limit", "1000")
    long = [{"role": "user", "content": "read this file: " + "token " * 2000}]
    rec = write_lines(tmp_path / "mixed.jsonl", [MESSAGES, long, MESSAGES])
    out = tmp_path / "run.json"
    p = asb("replay", "-e", mock.url, "-m", "m", "-w", str(rec), "--model-context-length", "1000", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert "Model context length: 1000 tokens; 1 request(s) per pass estimated above it are skipped" in p.stdout
    assert "skipped: task default seq 2" in p.stdout
    run = json.loads(out.read_text())
    assert [r["seq"] for r in run["requests"]] == [1, 3]
    assert run["settings"]["over_context"] == 1 and run["settings"]["model_context_length"] == 1000
    assert len(mock.truth(expect=2)) == 2, "the long request was never sent"
    # Without the flag the server refuses it, and the summary says what to do.
    p = asb("replay", "-e", mock.url, "-m", "m", "-w", str(rec), "--max-retries", "0", "-o", str(tmp_path / "b.json"))
    assert p.returncode == 1
    assert "maximum context length" in p.stdout and "--model-context-length N" in p.stdout, p.stdout


# ---- --enable-thinking -----------------------------------------------------------------


def test_enable_thinking_is_merged_into_every_body(start_mock, start_record, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    rec = start_record(mock.url)
    scenario = write_lines(tmp_path / "one.jsonl", [MESSAGES, MESSAGES])
    p = asb("replay", "-e", rec.url, "-m", "m", "-w", str(scenario), "--enable-thinking",
            "--extra-body", '{"chat_template_kwargs": {"reasoning_effort": "low"}, "top_k": 5}',
            "-o", str(tmp_path / "run.json"))
    assert p.returncode == 0, p.stderr
    bodies = [line["request"]["body"] for line in rec.lines(expect=2)]
    assert len(bodies) == 2
    for body in bodies:
        assert body["chat_template_kwargs"] == {"reasoning_effort": "low", "enable_thinking": True}
        assert body["top_k"] == 5
    p = asb("replay", "-e", rec.url, "-w", str(scenario), "--enable-thinking", "--extra-body",
            '{"chat_template_kwargs": 3}', "--dry-run")
    assert p.returncode == 1 and "chat_template_kwargs must be an object" in p.stderr


# ---- -V / --verbose-text -----------------------------------------------------------------


def test_verbose_prints_a_line_per_request_and_verbose_text_per_session(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    rec = write_lines(tmp_path / "two.jsonl", [MESSAGES, MESSAGES])
    p = asb("replay", "-e", mock.url, "-m", "m", "-w", str(rec), "-r", "2", "-V", "-o", str(tmp_path / "a.json"))
    assert p.returncode == 0, p.stderr
    lines = [l for l in p.stderr.splitlines() if l.startswith("[task:default]")]
    assert len(lines) == 4 and all(" ok: TTFT " in l for l in lines), p.stderr
    assert {l.split("] [seq")[0] for l in lines} == {"[task:default] [exec 0", "[task:default] [exec 1"}
    p = asb("replay", "-e", mock.url, "-m", "m", "-w", str(rec), "-r", "2", "--VV", "-o", str(tmp_path / "b.json"))
    assert p.returncode == 0, p.stderr
    assert sum(" ok: TTFT " in l for l in p.stderr.splitlines()) == 4
    assert sum("ended: 2/2 requests sent, 0 failed" in l for l in p.stderr.splitlines()) == 2, p.stderr
    p = asb("replay", "-e", mock.url, "-w", str(rec), "-V", "--verbose-text", "--dry-run")
    assert p.returncode == 2 and "cannot be used with" in p.stderr


# ---- --config ------------------------------------------------------------------------------


def test_config_file_fills_what_the_command_line_and_environment_leave(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    other = start_mock("--zero-delay", "--answer-tokens", "4")
    config = tmp_path / "bench.yml"
    config.write_text(f"endpoint: {mock.url}\nmodel: from-yaml\ntimeout: 60\nextra_body:\n  top_k: 3\n"
                      "tier: hard\nusers: 4\n")
    rec = write_lines(tmp_path / "one.jsonl", [MESSAGES])

    def plan(*args, env=None):
        p = asb(*args, "-w", str(rec), "--dry-run", "--json", env=env)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout), p.stderr

    # Before the subcommand, as AgenticSwarmBench takes it, or after.
    for args in (["--config", str(config), "replay"], ["replay", "--config", str(config)]):
        got, stderr = plan(*args, env={"ASB_ENDPOINT": "", "ASB_MODEL": ""})
        assert got["endpoint"] == mock.url and got["model"] == "from-yaml"
        assert got["settings"]["timeout_s"] == 60
        assert "not used: tier, users (AgenticSwarmBench speed/eval/agent settings)" in stderr
    # The environment wins over the file, and the command line over both.
    got, _ = plan("--config", str(config), "replay", env={"ASB_ENDPOINT": other.url})
    assert got["endpoint"] == other.url
    got, _ = plan("--config", str(config), "replay", "-e", mock.url, "-m", "cli", "--timeout", "5",
                  env={"ASB_ENDPOINT": other.url})
    assert (got["endpoint"], got["model"], got["settings"]["timeout_s"]) == (mock.url, "cli", 5)
    # The file's extra_body reaches the request.
    out = tmp_path / "run.json"
    p = asb("--config", str(config), "replay", "-w", str(rec), "-o", str(out), env={"ASB_ENDPOINT": ""})
    assert p.returncode == 0, p.stderr
    assert len(mock.truth(expect=1)) == 1 and json.loads(out.read_text())["model"] == "from-yaml"
    # Mistakes name the key or the value.
    config.write_text("endpoint: http://x\nscenario: builtin:trivial-qa\n")
    p = asb("--config", str(config), "replay", "--dry-run")
    assert p.returncode == 2 and "scenario" in p.stderr and str(config) in p.stderr, p.stderr
    config.write_text("timeout: 0.01\n")
    p = asb("--config", str(config), "replay", "-w", str(rec), "--dry-run")
    assert p.returncode == 2 and "0.1 to 86400" in p.stderr, p.stderr
    p = asb("--config", str(tmp_path / "missing.yml"), "replay", "--dry-run")
    assert p.returncode == 2 and "missing.yml: cannot open" in p.stderr


def test_config_file_gives_record_what_it_requires(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "record.yml"
    config.write_text(f"endpoint: {mock.url}\nmodel: m\nproxy_port: {port}\n")
    out = tmp_path / "rec.jsonl"
    proc = subprocess.Popen([asb_bin(), "--config", str(config), "record", "-o", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "ASB_ENDPOINT": "", "ASB_MODEL": ""})
    try:
        first = proc.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}" in first, first
        r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "x", "messages": MESSAGES},
                       timeout=10)
        assert r.status_code == 200, r.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert json.loads(out.read_text().splitlines()[0])["request"]["body"]["messages"] == MESSAGES


# ---- --cache-mode realistic-compat --------------------------------------------------------


def agenticswarmbench_poison(messages, lcp, task_id, execution):
    """AgenticSwarmBench 3.4.3's realistic poisoning of one request, on code points, with
    CPython's random: the 64-bit mask of the execution, the first 64 isolated spaces of
    the concatenated contents from character `lcp`, the masked ones doubled in place."""
    rng = random.Random(f"poison-{task_id}-exec-{execution}")
    mask = [rng.randint(0, 1) for _ in range(64)]
    s = "".join(m["content"] for m in messages)
    positions = [i for i in range(max(lcp, 0), len(s))
                 if s[i] == " " and (i == 0 or s[i - 1] != " ") and (i + 1 >= len(s) or s[i + 1] != " ")][:64]
    doubled = {p for k, p in enumerate(positions) if mask[k]}
    out, at = [], 0
    for m in messages:
        text = ""
        for c in m["content"]:
            text += c + (" " if at in doubled else "")
            at += 1
        out.append({**m, "content": text})
    return out


def test_realistic_compat_sends_agenticswarmbench_bodies_byte_for_byte(start_mock, start_record, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    rec = start_record(mock.url)
    system = {"role": "system", "content": "Tu es un agent de code — lis les fichiers d'abord, puis teste. " * 3}
    main = [system, {"role": "user", "content": "Corrige le parseur et ajoute des tests pour chaque cas limite"}]
    other = [system, {"role": "user", "content": "Corrige la documentation du module réseau et relis-la"}]
    side = [{"role": "user", "content": "Résume: ok"}]
    folder = scenario_dir(tmp_path, {"a": ([main, side], None), "b": ([other], None)})
    p = asb("replay", "-e", rec.url, "-m", "m", "-w", str(folder), "-r", "2", "--cache-mode", "realistic-compat",
            "--max-concurrent", "1", "--policy", "sequential", "-o", str(tmp_path / "run.json"))
    assert p.returncode == 0, p.stderr
    assert "AgenticSwarmBench 3.4.3's realistic, byte for byte" in p.stdout
    sent = [line["request"]["body"]["messages"] for line in rec.lines(expect=6)]
    first_a, first_b = "".join(m["content"] for m in main), "".join(m["content"] for m in other)
    lcp = next(i for i, (x, y) in enumerate(zip(first_a, first_b)) if x != y)
    expected = [agenticswarmbench_poison(msgs, lcp, task, execution)
                for task, conversations in (("a", [main, side]), ("b", [other]))
                for execution in range(2) for msgs in conversations]
    assert sent == expected
    assert sent[1] == side, "the side request is shorter than the LCP: sent as recorded"
    assert sent[0] != main and sent[0] != sent[2], "executions are poisoned apart after the LCP"

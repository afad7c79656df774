"""`asb replay` driven as users run it (the real binary), checked against ground truth:
`asb mock`'s truth log (what the server really did, joined on x-request-id), asb's own
fixtures, and a real llama.cpp server on both API paths."""

import json
import random
import subprocess

import anthropic
import pytest

from conftest import asb_bin, pinned, require_fixture
SYSTEM = "You are a careful coding agent working in a large repository. " * 30


def replay(*args, timeout=240, cpu=None):
    cmd = [*pinned(cpu), asb_bin(), "replay", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def write_recording(path, conversations, max_tokens=24):
    """asb-format lines: one per request, each conversation growing turn by turn."""
    lines = []
    for seq, messages in enumerate(conversations, 1):
        lines.append(json.dumps({"seq": seq, "messages": messages, "model": "rec", "max_tokens": max_tokens,
                                 "temperature": 0.0, "stream": True}))
    path.write_text("\n".join(lines) + "\n")
    return path


def growing_task(topic, turns=3):
    msgs = [{"role": "system", "content": SYSTEM}]
    out = []
    for t in range(turns):
        msgs = msgs + [{"role": "user", "content": f"Step {t} of the {topic} task: read the files and change them as needed."}]
        out.append(list(msgs))
        msgs = msgs + [{"role": "assistant", "content": f"Done with step {t} of {topic}."}]
    return out


def run_json(tmp_path, *args, name="run", cpu=None):
    out = tmp_path / f"{name}.json"
    p = replay(*args, "-o", str(out), cpu=cpu)
    assert out.exists(), p.stdout + p.stderr
    return p, json.loads(out.read_text())


def test_ttft_and_tokens_match_the_truth_log_at_64_streams(start_mock, tmp_path):
    # Server and client on a core each, as on two machines: on a shared core each one's
    # timestamps would wait for the other's time slices.
    mock = start_mock("--decode-tps", "100", cpu=0)
    rec = write_recording(tmp_path / "one.jsonl", growing_task("parser", turns=1))
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "-r", "320", "--max-concurrent", "64",
                      cpu=1)
    assert p.returncode == 0, p.stderr
    truth = {t["request_id"]: t for t in mock.truth(expect=320)}
    reqs = run["requests"]
    assert len(reqs) == 320 and all(r["ok"] for r in reqs)
    assert {r["slot"] for r in reqs} == set(range(64))
    # The opening burst (each worker's first request) is excluded: the mock's clock starts
    # when it has read a request's headers, and 64 requests landing at once wait in its
    # socket queue for ~2 ms on two cores — time the client rightly counts, the truth
    # cannot see. From then on 64 streams are in flight all the time.
    first_of_slot = {}
    for r in reqs:
        first_of_slot.setdefault(r["slot"], r["request_id"])
    steady = [r for r in reqs if r["request_id"] not in first_of_slot.values()]
    errors = sorted(abs(r["ttft_ms"] - truth[r["request_id"]]["ttft_ms"]) for r in steady)
    within = sum(e <= 0.5 for e in errors) / len(errors)
    # On a shared 2-core VM the OS now and then deschedules one of the two processes for
    # a few milliseconds, and every stream in flight at that moment (up to 64) takes the
    # whole delay: CI saw 8.3 ms on 1.2 % of the steady requests. A systematic error (the
    # wrong event, a clock read late, a queue on our side) moves the median and the bulk;
    # a descheduling only a tail of unpredictable size. So the test holds the median
    # within 0.2 ms (the last token: 0.3 ms) and 90 % within 0.5 ms, and leaves the tail to the benchmark
    # (bench/replay.sh reports the whole distribution), where a time slice cannot fail a build.
    def pct(xs, q):
        return xs[min(len(xs) - 1, int(q * len(xs)))]
    detail = f"TTFT error p50 {pct(errors, 0.5):.3f} ms, p90 {pct(errors, 0.9):.3f} ms, max {errors[-1]:.3f} ms"
    assert pct(errors, 0.5) <= 0.2 and within >= 0.9, detail
    # Last output event: the client's e2e against the mock's last token time.
    last = sorted(abs(r["e2e_ms"] - truth[r["request_id"]]["token_times_ms"][-1]) for r in steady)
    detail = f"last token error p50 {pct(last, 0.5):.3f} ms, p90 {pct(last, 0.9):.3f} ms, max {last[-1]:.3f} ms"
    assert pct(last, 0.5) <= 0.3 and sum(e <= 0.5 for e in last) / len(last) >= 0.9, detail
    for r in reqs:
        t = truth[r["request_id"]]
        assert r["completion_tokens"] == t["sent_tokens"] and r["completion_source"] == "usage"
        assert r["prompt_tokens"] == t["prompt_tokens"] and r["cached_tokens"] == t["cached_tokens"]
    assert run["summary"]["output_tokens"] == sum(t["sent_tokens"] for t in truth.values())


def test_anthropic_path_against_the_mock_matches_the_truth(start_mock, tmp_path):
    mock = start_mock("--decode-tps", "200")
    rec = write_recording(tmp_path / "conv.jsonl", growing_task("docs"))
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "--upstream-api", "anthropic")
    assert p.returncode == 0, p.stderr
    assert run["api"] == "anthropic" and run["target_url"].endswith("/v1/messages")
    truth = {t["request_id"]: t for t in mock.truth(expect=3)}
    assert all(truth[r["request_id"]]["api"] == "anthropic" for r in run["requests"])
    for r in run["requests"]:
        t = truth[r["request_id"]]
        assert r["completion_tokens"] == t["sent_tokens"]
        assert r["prompt_tokens"] == t["prompt_tokens"]
        # The precision is the 64-stream test's; this one checks the Anthropic path measures
        # the same instant (a wrong event would be off by a token's 5 ms or more), with room
        # for one descheduled time slice on a shared machine.
        assert abs(r["ttft_ms"] - t["ttft_ms"]) <= 3.0


def test_cache_modes_order_ttft_on_the_mock_cache(start_mock, tmp_path):
    conversations = growing_task("parser") + growing_task("lexer")
    rec = tmp_path / "s"
    rec.mkdir()
    write_recording(rec / "parser.jsonl", conversations[:3])
    write_recording(rec / "lexer.jsonl", conversations[3:])
    (rec / "scenario.json").write_text(json.dumps({"name": "two", "tasks": [
        {"id": "parser", "recording": "parser.jsonl"}, {"id": "lexer", "recording": "lexer.jsonl"}]}))
    mean_ttft, cached = {}, {}
    for mode in ("allwarm", "realistic", "allcold"):
        # A fresh server per mode, a slow prefill so cached tokens show in TTFT, no jitter.
        mock = start_mock("--prefill-tps", "2000", "--jitter", "0", "--decode-tps", "500")
        p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "-r", "2", "--max-concurrent", "1",
                          "--cache-mode", mode, name=mode)
        assert p.returncode == 0, p.stderr
        assert run["settings"]["cache_mode"] == mode
        ttfts = [r["ttft_ms"] for r in run["requests"]]
        mean_ttft[mode] = sum(ttfts) / len(ttfts)
        cached[mode] = run["summary"]["cached_tokens"]
        mock.stop()
    assert mean_ttft["allwarm"] < mean_ttft["realistic"] < mean_ttft["allcold"], mean_ttft
    assert cached["allwarm"] > cached["realistic"] > cached["allcold"] > 0, cached


def test_asb_fixture_scenarios_replay_unchanged(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "8")
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(require_fixture("asb/trivial-qa")), "-r", "2")
    assert p.returncode == 0, p.stderr
    assert run["scenario"]["name"] == "trivial-qa" and len(run["requests"]) == 10
    assert {r["task_id"] for r in run["requests"]} == {
        "capital-of-france", "largest-planet", "boiling-point", "speed-of-light", "binary-to-decimal"}
    assert run["settings"]["max_tokens"] == "as recorded (256 sent)"
    # A big agentic scenario with min_lcp_length, sliced to keep it short.
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(require_fixture("asb/cpp-builds-gemma-4-31b")),
                      "--slice-tokens", "60000", name="cpp")
    assert p.returncode == 0, p.stderr
    assert run["settings"]["shared_prefix_chars"] >= 12000
    assert all(r["ok"] for r in run["requests"])
    assert {b["name"] for b in run["buckets"]} <= {"fresh", "short", "medium", "long", "full", "xl", "xxl"}


def test_slicing_matches_asb_on_js_coding_opus(tmp_path):
    """asb 3.4.3: --slice-tokens 200000 keeps 4 entries of build-rest-api."""
    scenario = str(require_fixture("asb/js-coding-opus"))
    p = replay("-e", "http://127.0.0.1:9", "-m", "m", "-w", scenario, "--slice-tokens", "200000", "--dry-run",
               "--json", "--task", "build-rest-api")
    assert p.returncode == 0, p.stderr
    plan = json.loads(p.stdout)
    [task] = plan["scenario"]["tasks"]
    assert (task["id"], task["requests"], task["recorded_requests"]) == ("build-rest-api", 4, 15)
    assert "DRY RUN" in p.stderr and "Slice: ≤200000" in p.stderr
    # Its manifest names a recording asb never shipped (websocket-chat): a clear error.
    p = replay("-e", "http://127.0.0.1:9", "-w", scenario, "--dry-run")
    assert p.returncode == 1 and "websocket-chat.jsonl" in p.stderr


def test_dry_run_sends_nothing(start_mock, tmp_path):
    mock = start_mock("--zero-delay")
    for mode in ("realistic", "allwarm", "allcold"):
        p = replay("-e", mock.url, "-m", "m", "-w", "builtin:trivial-qa", "-r", "3", "--max-concurrent", "3",
                   "--dry-run", "--cache-mode", mode, "--policy", "random", "--seed", "42")
        assert p.returncode == 0, p.stderr
        assert "DRY RUN" in p.stdout and "seed=42" in p.stdout and "Users" not in p.stdout
    assert mock.truth() == []


def test_policies_order_executions(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "2")
    ids = ["capital-of-france", "largest-planet", "boiling-point", "speed-of-light", "binary-to-decimal"]

    def order(*args):
        p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", "builtin:trivial-qa", "-r", "2",
                          "--max-concurrent", "1", *args, name="-".join(args))
        assert p.returncode == 0, p.stderr
        return [(r["task_id"], r["execution"]) for r in run["requests"]], run

    sequential = [(t, e) for t in ids for e in range(2)]
    assert order("--policy", "sequential")[0] == sequential
    assert order("--policy", "round_robin")[0] == [(t, e) for e in range(2) for t in ids]
    shuffled = list(sequential)
    random.Random(7).shuffle(shuffled)  # asb's random policy, bit for bit
    got, run = order("--policy", "random", "--seed", "7")
    assert got == shuffled and run["settings"]["seed"] == 7


def test_failures_are_retried_counted_and_exit_non_zero(start_mock, tmp_path):
    # Nothing listens on port 9 and nothing was ever answered: no retry can mend that, the
    # run stops at the first failure with the cause (the report is still written).
    p, run = run_json(tmp_path, "-e", "http://127.0.0.1:9", "-m", "m", "-w", "builtin:trivial-qa",
                      "--max-retries", "1", name="down")
    assert p.returncode == 1
    assert run["aborted"].startswith("cannot reach") and "cannot connect" in run["aborted"]
    assert all(r["attempts"] == 1 and "cannot connect" in r["error"] for r in run["requests"])
    assert "cannot connect" in p.stdout
    # A server answering 429 to everything: retries really run, then the error is shown.
    mock = start_mock("--zero-delay", "--error-rate", "1", "--error-status", "429")
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", "builtin:trivial-qa", "--max-retries", "2",
                      "--max-concurrent", "1", "--max-consecutive-failures", "2", name="429")
    assert p.returncode == 1
    assert len(mock.truth(expect=6)) == 6, "two requests × three attempts before the abort"
    assert all(r["error"].startswith("HTTP 429") and r["attempts"] == 3 for r in run["requests"])
    assert "2 requests in a row" in run["aborted"]


def test_outputs_reports_and_compare(start_mock, tmp_path):
    mock = start_mock("--answer-tokens", "4", "--decode-tps", "200")
    md = tmp_path / "report.md"
    p = replay("-e", mock.url, "-m", "m", "-w", "builtin:trivial-qa", "-o", str(md))
    assert p.returncode == 0, p.stderr
    run = json.loads((tmp_path / "report.json").read_text())
    text = md.read_text()
    for formula in run["formulas"]:
        assert formula in text
    assert all(r["itl_ms"] is not None for r in run["requests"])
    html = tmp_path / "report.html"
    r = subprocess.run([asb_bin(), "report", "-i", str(tmp_path / "report.json"), "-o", str(html)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert html.read_text().count("<svg") >= 4
    p = replay("-e", mock.url, "-m", "m", "-w", "builtin:trivial-qa", "-o", str(tmp_path / "b.json"))
    c = subprocess.run([asb_bin(), "compare", str(tmp_path / "report.json"), str(tmp_path / "b.json")],
                       capture_output=True, text=True)
    assert c.returncode == 0, c.stderr
    assert "fresh" in c.stdout
    # --json: the run on stdout, human text on stderr.
    p = replay("-e", mock.url, "-m", "m", "-w", "builtin:trivial-qa", "--json")
    assert json.loads(p.stdout)["summary"]["succeeded"] == 5 and "asb replay" in p.stderr


def test_default_replays_the_builtin_scenario_on_the_embedded_mock():
    p = replay(timeout=120)
    assert p.returncode == 0, p.stderr
    assert "builtin (asb mock in-process" in p.stdout and "from builtin:claude-code-smollm2" in p.stdout
    assert "6/6 ok" in p.stdout


def test_users_flag_is_refused_with_the_migration_hint():
    p = replay("-u", "4")
    assert p.returncode != 0
    assert "--users" in p.stderr and "--repetitions" in p.stderr and "--max-concurrent" in p.stderr


def test_record_then_replay_against_llama_on_both_paths(llama_server, start_record, tmp_path):
    """A session recorded by `asb record` (Anthropic SDK → llama.cpp), replayed against the
    same server through Chat Completions and through Anthropic /v1/messages. Token counts
    are the server's own usage."""
    rec = start_record(llama_server.url, model=llama_server.model)
    c = anthropic.Anthropic(base_url=rec.url, api_key="dummy", max_retries=0, timeout=120)
    history = [{"role": "user", "content": "Say hi."}]
    for turn in range(2):
        m = c.messages.create(model="claude-x", max_tokens=12, system="Be brief.", messages=history,
                              extra_body={"temperature": 0.0})
        history += [{"role": "assistant", "content": m.content[0].text or "ok"},
                    {"role": "user", "content": "Again, shorter."}]
    rec.stop()
    recording = rec.path
    runs = {}
    for api in ("openai", "anthropic"):
        p, run = run_json(tmp_path, "-e", llama_server.url, "-m", llama_server.model, "-w", str(recording),
                          "--upstream-api", api, "--cache-mode", "allwarm", "--max-concurrent", "1", name=api)
        assert p.returncode == 0, p.stdout + p.stderr
        assert len(run["requests"]) == 2 and all(r["ok"] for r in run["requests"])
        for r in run["requests"]:
            assert r["completion_source"] == "usage" and 0 < r["completion_tokens"] <= 12
            assert r["prompt_tokens"] > 0 and r["ttft_ms"] > 0
        runs[api] = run
    # The same conversation is the same prompt on both paths (same chat template).
    for a, b in zip(runs["openai"]["requests"], runs["anthropic"]["requests"]):
        assert abs(a["prompt_tokens"] - b["prompt_tokens"]) <= 2


def test_live_history_feeds_the_endpoint_s_answers_back_thread_by_thread(start_mock, start_record, tmp_path):
    """Replay → asb record → mock: the recording shows exactly what replay sent. The main
    thread's second turn carries the mock's own first answer; an interleaved side call (a
    different system prompt) is sent as recorded and still ends with its user message."""
    mock = start_mock("--zero-delay", "--answer-tokens", "6")
    rec = start_record(mock.url)
    main1 = [{"role": "system", "content": "Main agent."}, {"role": "user", "content": "Fix the bug."}]
    side = [{"role": "system", "content": "Write a title."}, {"role": "user", "content": "Fix the bug."}]
    main2 = main1 + [{"role": "assistant", "content": "RECORDED ANSWER"}, {"role": "user", "content": "Now test it."}]
    recording = write_recording(tmp_path / "interleaved.jsonl", [main1, side, main2])
    for mode in ("recorded", "live"):
        p = replay("-e", rec.url, "-m", "m", "-w", str(recording), "--history-mode", mode, "--cache-mode", "allwarm")
        assert p.returncode == 0, p.stdout + p.stderr
        assert f"History mode: {mode}" in p.stdout
    sent = [l["request"]["body"] for l in rec.lines(6)]
    answers = [l["result"]["text"] for l in rec.lines(6)]
    recorded_run, live_run = sent[:3], sent[3:]
    assert recorded_run[2]["messages"][2]["content"] == "RECORDED ANSWER"
    assert live_run[2]["messages"][2]["content"] == answers[3] != "RECORDED ANSWER"
    assert live_run[1]["messages"] == side, "the side thread is not given the main thread's answers"
    for body in sent:
        assert body["messages"][-1]["role"] == "user" and body["messages"][0]["role"] == "system"


def test_timeouts_and_cut_streams_are_errors_with_their_cause(start_mock, tmp_path):
    stalled = start_mock("--zero-delay", "--stall-rate", "1", "--stall-ms", "5000")
    p, run = run_json(tmp_path, "-e", stalled.url, "-m", "m", "-w", "builtin:trivial-qa", "--task", "largest-planet",
                      "--timeout", "0.5", name="stall")
    assert p.returncode == 1
    [r] = run["requests"]
    assert r["error"] == "timeout after 0.5 s (before the first token)" and not r["ok"]
    cut = start_mock("--zero-delay", "--cut-rate", "1", "--answer-tokens", "40")
    p, run = run_json(tmp_path, "-e", cut.url, "-m", "m", "-w", "builtin:trivial-qa", "--task", "largest-planet",
                      name="cut")
    assert p.returncode == 1
    [r] = run["requests"]
    assert "cut" in r["error"] and r["attempts"] == 1, r["error"]
    assert 0 < r["content_events"] < 40


def test_mock_args_override_the_builtin_defaults(tmp_path):
    # The example of `asb replay --help`: the user's flags replace the embedded mock's own.
    p, run = run_json(tmp_path, "--mock-args", "--decode-tps 120 --answer-tokens 4 --prefill-tps 50000", "-r", "1",
                      "--max-concurrent", "8")
    assert p.returncode == 0, p.stderr
    assert "--decode-tps 120" in p.stdout + p.stderr
    assert all(r["completion_tokens"] <= 4 for r in run["requests"] if r["ok"])


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_sigterm_during_a_replay_keeps_the_report(start_mock, tmp_path, sig):
    import signal
    import time

    mock = start_mock("--decode-tps", "20", "--jitter", "0")
    rec = write_recording(tmp_path / "one.jsonl", growing_task("parser", turns=1), max_tokens=400)
    out = tmp_path / "run.json"
    proc = subprocess.Popen([asb_bin(), "replay", "-e", mock.url, "-m", "m", "-w", str(rec), "-r", "50",
                             "--max-concurrent", "2", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(3)
    proc.send_signal(getattr(signal, sig))
    stdout, stderr = proc.communicate(timeout=30)
    assert out.exists(), stdout + stderr
    run = json.loads(out.read_text())
    assert sig in json.dumps(run), "the report says why the run stopped"
    assert proc.returncode == 128 + getattr(signal, sig), "the shell's code for the signal: 143, 129, 130"


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_cannot_be_reached_ends_the_run_at_once(tmp_path):
    import time

    rec = write_recording(tmp_path / "one.jsonl", growing_task("parser", turns=2))
    started = time.monotonic()
    p = replay("-e", f"http://127.0.0.1:{free_port()}", "-m", "m", "-w", str(rec), "-r", "4", timeout=60)
    assert time.monotonic() - started < 3, "no backoff before giving up on a closed port"
    assert p.returncode != 0
    out = " ".join((p.stdout + p.stderr).split())
    assert "cannot reach" in out and "is -e/--endpoint right?" in out, out


def test_refused_credentials_and_an_unknown_model_end_the_run_with_a_hint(start_mock, tmp_path):
    import http.server
    import threading
    import time

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            body = b'{"error":{"message":"Incorrect API key provided: sk-wrong. You can find your API key at https://example/keys.","type":"invalid_request_error"}}'
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rec = write_recording(tmp_path / "one.jsonl", growing_task("parser", turns=2))
    try:
        started = time.monotonic()
        p = replay("-e", f"http://127.0.0.1:{server.server_port}", "-m", "m", "-w", str(rec), "-r", "8", timeout=60)
        assert time.monotonic() - started < 3
        out = " ".join((p.stdout + p.stderr).split())
        assert p.returncode != 0 and "refused the credentials" in out and "check -k/--api-key" in out, out
        assert "You can find your API key at https://example/keys." in out, "the server's whole message"
    finally:
        server.shutdown()

    mock = start_mock("--zero-delay", "--models", "alpha")
    p = replay("-e", mock.url, "-m", "beta", "-w", str(rec), "-r", "8", "--max-concurrent", "1", timeout=60)
    out = " ".join((p.stdout + p.stderr).split())
    assert p.returncode != 0 and "does not serve this model" in out and "pass -m/--model" in out, out
    assert len(mock.truth(expect=1)) == 1, "the run stopped at the first refusal"


def test_outputs_are_checked_before_anything_is_sent(start_mock, tmp_path):
    mock = start_mock("--zero-delay")
    rec = write_recording(tmp_path / "one.jsonl", growing_task("parser", turns=1))
    p = replay("-e", mock.url, "-m", "m", "-w", str(rec), "-o", "/proc/no-such/report.md")
    assert p.returncode != 0 and "-o /proc/no-such/report.md" in p.stderr, p.stderr
    assert mock.truth() == [], "nothing was sent"
    nested = tmp_path / "new" / "folder" / "report.md"
    p = replay("-e", mock.url, "-m", "m", "-w", str(rec), "-o", str(nested))
    assert p.returncode == 0, p.stderr
    assert nested.exists() and nested.with_suffix(".json").exists()


def test_failures_come_first_in_the_verdict(start_mock, tmp_path):
    # Fast answers (a "good" server by its timings) but a third of the requests fail.
    mock = start_mock("--zero-delay", "--error-rate", "0.33", "--error-status", "500", "--seed", "3")
    rec = write_recording(tmp_path / "one.jsonl", growing_task("parser", turns=1))
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "-r", "24", "--max-retries", "0")
    s = run["summary"]
    assert s["failed"] > 0 and s["verdict"] == "poor", s
    assert s["verdict_basis"].startswith(f"{s['failed']} of 24 requests failed"), s["verdict_basis"]
    assert p.returncode == 1


def test_a_json_that_is_not_a_scenario_is_named_for_what_it_is(start_mock, tmp_path):
    mock = start_mock("--zero-delay")
    rec = write_recording(tmp_path / "one.jsonl", growing_task("parser", turns=1))
    run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), name="result")
    p = replay("-w", str(tmp_path / "result.json"), "--dry-run")
    assert p.returncode != 0 and "is the result of a replay, not a scenario" in p.stderr, p.stderr
    other = tmp_path / "settings.json"
    other.write_text('{"theme": "dark", "fontSize": 12}')
    p = replay("-w", str(other), "--dry-run")
    assert p.returncode != 0 and "is not a scenario manifest" in p.stderr and "theme, fontSize" in p.stderr, p.stderr


def test_a_negative_seed_is_its_absolute_value_as_in_cpython():
    """AgenticSwarmBench users pass negative seeds; CPython's random.seed takes the absolute value."""
    plans = []
    for seed in ("-7", "7"):
        p = replay("--policy", "random", "--seed", seed, "-r", "3", "--dry-run", "--json")
        assert p.returncode == 0, p.stderr
        assert "seed=7" in p.stderr
        plans.append(json.loads(p.stdout)["settings"])
    assert plans[0] == plans[1]
    p = replay("--seed", "seven", "--dry-run")
    assert p.returncode != 0 and "expected a whole number" in p.stderr

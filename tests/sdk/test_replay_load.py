"""`asb replay` as an agentic load: sessions that keep their recorded think time, sub-agents
that overlap, open-loop arrivals, a steady-state window, and latency from the intended send
time — driven through the real binary and checked against `asb mock`'s truth log (when each
request really reached the server, and when its answer ended)."""

import json
import sys
import time
import subprocess

from conftest import asb_bin, pinned

SYSTEM = "You are a careful coding agent. " * 20


def replay(*args, timeout=240, cpu=None):
    cmd = [*pinned(cpu), asb_bin(), "replay", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def run_json(tmp_path, *args, name="run", cpu=None, ok=True):
    out = tmp_path / f"{name}.json"
    p = replay(*args, "-o", str(out), cpu=cpu)
    if ok:
        assert p.returncode == 0, p.stdout + p.stderr
    assert out.exists(), p.stdout + p.stderr
    return p, json.loads(out.read_text())


def timed_recording(path, calls):
    """Our format's lines: (thread, start_ms, end_ms) per call, in arrival order. Each
    thread's conversation grows turn by turn, as an agent's does."""
    history = {}
    lines = []
    for seq, (thread, start, end) in enumerate(calls, 1):
        msgs = history.setdefault(thread, [{"role": "system", "content": f"{SYSTEM} Thread {thread}."}])
        msgs.append({"role": "user", "content": f"Call {seq} of thread {thread}: go on."})
        body = {"model": "rec", "messages": list(msgs), "max_tokens": 8, "stream": True}
        msgs.append({"role": "assistant", "content": f"Recorded answer {seq}."})
        lines.append(json.dumps({
            "format_version": 1, "seq": seq, "model": "rec", "start_offset_ms": start, "thread_id": thread,
            "timing": {"end_ms": end - start, "events": 3, "content_events": 1},
            "request": {"method": "POST", "path": "/v1/chat/completions", "headers": {}, "body": body},
        }))
    path.write_text("\n".join(lines) + "\n")
    return path


def joined(run, truth):
    """Per session, its requests in turn order, each with its truth record."""
    by_id = {t["request_id"]: t for t in truth}
    sessions = {}
    for r in run["requests"]:
        sessions.setdefault(r["session"], []).append((r, by_id[r["request_id"]]))
    return {s: sorted(rs, key=lambda x: x[0]["turn"]) for s, rs in sessions.items()}


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


GAPS = [150.0, 80.0, 300.0]


def single_thread(tmp_path):
    calls, t = [], 0.0
    for gap in [0.0] + GAPS:
        t += gap
        calls.append(("main", t, t + 40.0))
        t += 40.0
    return timed_recording(tmp_path / "one-thread.jsonl", calls)


def test_recorded_think_time_keeps_each_gap_at_1_and_64_sessions(start_mock, tmp_path):
    mock = start_mock("--prefill-tps", "1000000", "--decode-tps", "500", cpu=0)
    rec = single_thread(tmp_path)
    for sessions in (1, 64):
        # One session runs four executions one after another: 12 gaps, so that one time
        # slice lost to a neighbour on this shared VM (6.7 ms once) is a tail, not the p90.
        executions = max(sessions, 4)
        before = len(mock.truth())
        p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "--sessions", str(sessions),
                          "-r", str(executions), "--cache-mode", "allwarm", name=f"s{sessions}", cpu=1)
        assert "Think time: recorded" in p.stdout and run["settings"]["think_time"] == "recorded"
        truth = mock.truth(expect=before + 4 * executions)[before:]
        errors = []
        for calls in joined(run, truth).values():
            assert [r["turn"] for r, _ in calls] == [0, 1, 2, 3]
            for (_, prev), (_, nxt), gap in zip(calls, calls[1:], GAPS):
                # The server saw the next call `gap` after it handed over the previous answer.
                seen_gap = nxt["arrival_unix_ms"] - (prev["arrival_unix_ms"] + prev["end_ms"])
                errors.append(abs(seen_gap - gap))
        detail = f"{sessions} sessions: gap error p50 {pct(errors, .5):.3f} ms, p95 {pct(errors, .95):.3f}, max {max(errors):.3f}"
        # Within 2 ms, for the bulk; the tail on a shared 2-core machine (the mock and 64
        # sessions on one core each) is the benchmark's to measure (bench/replay.sh).
        bound = (1.0, 2.0) if sessions == 1 else (1.5, 4.0)
        assert pct(errors, 0.5) <= bound[0] and pct(errors, 0.9) <= bound[1], detail
        load = run["load"]
        assert load["behind_schedule"] is None and load["schedule_lag_ms"]["p50"] < 2.0, load["schedule_lag_ms"]
        assert load["sessions"]["started"] == load["sessions"]["completed"] == executions
        think = load["sessions"]["think_scheduled_s"]
        assert abs(think["p50"] - sum(GAPS) / 1000) < 1e-6
        assert abs(load["sessions"]["think_measured_s"]["p50"] - sum(GAPS) / 1000) < 0.005


def test_the_truth_starts_when_the_kernel_received_the_request(start_mock, tmp_path):
    """The mock's truth log counts a request from the kernel's receipt of it (`read_ms`
    later, the mock read it): never after the client's send, so the client's TTFT (from
    its send) is never below the truth's, even when 16 sessions queue at a one-core mock."""
    mock = start_mock("--zero-delay", "--answer-tokens", "4", cpu=0)
    rec = single_thread(tmp_path)
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "--sessions", "16", "-r", "16",
                      "--think-time", "none", "--cache-mode", "allwarm", cpu=1)
    truth = {t["request_id"]: t for t in mock.truth(expect=64)}
    assert len(truth) == 64 and all(r["ok"] for r in run["requests"])
    for r in run["requests"]:
        t = truth[r["request_id"]]
        if sys.platform == "linux":
            assert t["read_ms"] is not None and 0 <= t["read_ms"] < 1000, t
        assert r["ttft_ms"] >= t["ttft_ms"] - 0.01, (r["ttft_ms"], t)


def test_without_sessions_the_pump_stays_back_to_back(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    rec = single_thread(tmp_path)
    for flags in (["--max-concurrent", "1"], ["--sessions", "1", "--think-time", "none"]):
        before = len(mock.truth())
        p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), *flags)
        assert run["settings"]["think_time"] == "none"
        truth = mock.truth(expect=before + 4)[before:]
        gaps = [b["arrival_unix_ms"] - (a["arrival_unix_ms"] + a["end_ms"]) for a, b in zip(truth, truth[1:])]
        assert max(gaps) < 20, gaps  # the recorded gaps (80–300 ms) are not kept
        assert "Think time: none" in p.stdout


def test_sessions_hold_their_slot_through_think_time(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    rec = timed_recording(tmp_path / "thinker.jsonl", [("m", 0, 10), ("m", 310, 320), ("m", 620, 630)])
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "--sessions", "3", "-r", "9")
    assert "sessions: 9 started, 9 completed" in p.stdout and "schedule lag p50" in p.stdout, p.stdout
    subprocess.run([asb_bin(), "report", "-i", str(tmp_path / "run.json"), "-o", str(tmp_path / "report.md")],
                   check=True, capture_output=True)
    report = (tmp_path / "report.md").read_text()
    assert "| Sessions | 9 started, 9 completed |" in report and "| Schedule lag | p50 " in report
    assert "`ttft_from_due_ms`" in report
    sessions = run["sessions"]
    assert len(sessions) == 9 and all(s["completed"] for s in sessions)
    assert {s["slot"] for s in sessions} == {0, 1, 2}
    edges = sorted([(s["due_ms"], 1) for s in sessions] + [(s["end_ms"], -1) for s in sessions],
                   key=lambda e: (e[0], e[1]))
    in_flight, most = 0, 0
    for _, d in edges:
        in_flight += d
        most = max(most, in_flight)
    assert most == 3
    # Requests alone would show at most 3 in flight for a few ms each; sessions keep all 3
    # slots busy through the ~600 ms of think time: three waves of ~620 ms.
    assert 1.7 < run["summary"]["duration_s"] < 3.0, run["summary"]["duration_s"]
    later = sorted(sessions, key=lambda s: s["due_ms"])[3:]
    first_ends = sorted(s["end_ms"] for s in sorted(sessions, key=lambda s: s["due_ms"])[:3])
    assert later[0]["due_ms"] >= first_ends[0] - 1.0, "a fourth session started while three were thinking"


def test_sub_agents_overlap_as_recorded_and_the_main_thread_waits_for_them(start_mock, tmp_path):
    mock = start_mock("--prefill-tps", "1000000", "--decode-tps", "100", "--answer-tokens", "6")
    rec = timed_recording(tmp_path / "sub-agents.jsonl", [
        ("main", 0, 60), ("a", 160, 220), ("b", 210, 270), ("b", 290, 350), ("a", 300, 360), ("main", 450, 510)])
    _, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "--sessions", "1",
                      "--cache-mode", "allwarm")
    truth = mock.truth(expect=6)
    calls = [t for _, t in joined(run, truth)[0]]
    span = [(t["arrival_unix_ms"], t["arrival_unix_ms"] + t["end_ms"]) for t in calls]
    # a's first call and b's first call are in flight together, as in the recording.
    assert span[2][0] < span[1][1], f"no overlap: a {span[1]}, b {span[2]}"
    # The last main call goes 90 ms after the later of the sub-agents' last calls ends
    # (recorded: b ended at 350, a at 360; main at 450).
    # (Lines in completion order, as our recorder writes them: b's second call is line 4.)
    assert span[5][0] >= max(span[4][1] + 90 - 2, span[3][1] + 100 - 2), span
    assert abs(span[5][0] - max(span[4][1] + 90, span[3][1] + 100)) <= 3, span


def test_open_loop_sessions_that_find_no_slot_are_behind_schedule(start_mock, tmp_path):
    mock = start_mock("--prefill-tps", "1000000", "--decode-tps", "50", "--answer-tokens", "10")
    rec = timed_recording(tmp_path / "two.jsonl", [("m", 0, 200), ("m", 250, 450)])
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "--session-rate", "40",
                      "--arrival", "constant", "--max-sessions", "2", "-r", "8", ok=False)
    assert p.returncode == 1, p.stdout + p.stderr
    load = run["load"]
    assert load["behind_schedule"].startswith("behind schedule: schedule lag p99")
    assert run["summary"]["verdict"] == "poor" and "behind schedule" in run["summary"]["verdict_basis"]
    assert "constant arrivals at 40/s" in load["model"] and "at most 2 in flight" in load["model"]
    # The wait is in the latency from the intended time, not in the latency from the send.
    late = [r for r in run["requests"] if r["lag_ms"] > 50]
    assert late and all(r["ttft_from_due_ms"] > r["ttft_ms"] + 50 for r in late)
    assert "BEHIND SCHEDULE: behind schedule" in p.stdout


def test_request_rate_sends_on_the_arrival_clock(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    rec = single_thread(tmp_path)
    _, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "--request-rate", "25",
                      "--arrival", "constant", "-r", "5", "--cache-mode", "allwarm")
    truth = mock.truth(expect=20)
    arrivals = sorted(t["arrival_unix_ms"] for t in truth)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    errors = [abs(g - 40.0) for g in gaps]
    # A descheduled time slice on a shared machine moves one arrival, and so two gaps: the
    # bulk must be sub-millisecond (bench/pacing.sh measures the whole distribution).
    assert len(gaps) == 19 and pct(errors, 0.5) <= 0.5 and pct(errors, 0.8) <= 2.0, gaps
    assert run["sessions"] == [] and run["load"]["behind_schedule"] is None


def test_duration_cycles_and_the_window_leaves_out_ramp_and_drain(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    # Four calls 100 ms apart: when --duration ends, sessions are mid-way, and what they
    # have not sent yet must not keep the run waiting.
    rec = timed_recording(tmp_path / "short.jsonl", [("m", 0, 5), ("m", 105, 110), ("m", 210, 215), ("m", 315, 320)])
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "--sessions", "2", "--duration", "2s",
                      "--warmup", "500ms", "--cooldown", "0.5")
    assert "Run length: 2.0 s" in p.stdout and "Cache over the run: each new session is a new repetition" in p.stdout
    reqs = run["requests"]
    executions = {r["execution"] for r in reqs}
    assert len(executions) > 10, "sessions cycle with fresh repetition numbers (fresh poison)"
    inside = [r for r in reqs if r["in_window"]]
    assert all(500 <= r["scheduled_ms"] <= 1500 for r in inside)
    assert all(not (500 <= r["scheduled_ms"] <= 1500) for r in reqs if not r["in_window"])
    assert run["summary"]["requests"] == len(inside) < len(reqs)
    window = run["load"]["window"]
    assert (window["from_ms"], window["to_ms"], window["requests_in"]) == (500.0, 1500.0, len(inside))
    assert max(r["scheduled_ms"] for r in reqs) <= 2000 + 5, "no work starts after --duration"


def test_duration_drains_when_a_call_after_the_deadline_is_waited_for(start_mock, tmp_path):
    # Calls 300 ms apart and a 1 s run: sessions started late have their second call due
    # past the deadline (not made) while their third waits for it; the run must still end.
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    rec = timed_recording(tmp_path / "chain.jsonl", [("m", 0, 5), ("m", 300, 305), ("m", 600, 605)])
    out = tmp_path / "run.json"
    p = replay("-e", mock.url, "-m", "m", "-w", str(rec), "--sessions", "3", "--duration", "1s", "-o", str(out),
               timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    run = json.loads(out.read_text())
    assert max(r["scheduled_ms"] for r in run["requests"]) <= 1000 + 5


def test_live_history_waits_for_the_answer_it_carries(start_mock, start_record, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "6")
    rec = start_record(mock.url)
    recording = timed_recording(tmp_path / "live.jsonl", [("m", 0, 10), ("m", 60, 70), ("m", 120, 130)])
    p = replay("-e", rec.url, "-m", "m", "-w", str(recording), "--sessions", "1", "--history-mode", "live",
               "--think-time", "timestamps", "--cache-mode", "allwarm")
    assert p.returncode == 0, p.stdout + p.stderr
    lines = rec.lines(3)
    answers = [l["result"]["text"] for l in lines]
    bodies = [l["request"]["body"] for l in lines]
    assert bodies[1]["messages"][2]["content"] == answers[0] != "Recorded answer 1."
    assert bodies[2]["messages"][4]["content"] == answers[1]


def test_dry_run_prints_each_session_s_schedule(tmp_path):
    rec = timed_recording(tmp_path / "sub.jsonl", [("main", 0, 60), ("a", 160, 220), ("main", 400, 500)])
    p = replay("-w", str(rec), "--sessions", "4", "--think-time", "recorded,scale=0.5", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert "Schedule per session (think time recorded,scale=0.5)" in p.stdout
    assert "[2] thread a: [1] ends + 0.050 s" in p.stdout
    assert "[3] thread main: [1] ends + 0.170 s, [2] ends + 0.090 s" in p.stdout


def test_load_flags_refuse_what_cannot_mean_anything(tmp_path):
    rec = single_thread(tmp_path)
    for flags, needle in [
        (["--sessions", "2", "--max-concurrent", "3"], "cannot be used with"),
        (["--think-time", "sometimes"], "unknown \"sometimes\""),
        (["--request-rate", "5", "--history-mode", "live"], "needs sessions"),
        (["--burstiness", "2", "--session-rate", "1"], "add --arrival gamma"),
        (["--max-sessions", "3"], "--session-rate"),
        (["--duration", "soon"], "expected a duration"),
    ]:
        p = replay("-w", str(rec), "--dry-run", *flags)
        assert p.returncode != 0 and needle in p.stderr, (flags, p.stderr)


def capacity(*args, timeout=300, cpu=None):
    cmd = [*pinned(cpu), asb_bin(), "capacity", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_replay_reports_slo_attainment_and_goodput_and_fails_a_missed_slo(start_mock, tmp_path):
    mock = start_mock("--prefill-tps", "1000000", "--decode-tps", "200", "--answer-tokens", "10")
    rec = single_thread(tmp_path)
    slo = "ttft:p99<=2s,decode_tps:p50>=1000"
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "--sessions", "2", "-r", "4",
                      "--think-time", "none", "--slo", slo, ok=False)
    assert p.returncode == 1, "a missed SLO fails the run"
    report = run["slo"]
    assert report["met"] is False and "NOT MET" in p.stdout
    assert [l["met"] for l in report["limits"]] == [True, False]
    # Goodput by hand from the raw samples: each request's own values against each limit.
    meeting = [r for r in run["requests"] if r["ok"] and r["ttft_from_due_ms"] <= 2000
               and (r["decode_tok_per_s"] is None or r["decode_tok_per_s"] >= 1000)]
    assert report["requests_meeting"] == len(meeting) == 0
    p, run = run_json(tmp_path, "-e", mock.url, "-m", "m", "-w", str(rec), "--sessions", "2", "-r", "4",
                      "--think-time", "none", "--slo", "ttft:p99<=2s,decode_tps:p50>=100", name="met")
    report = run["slo"]
    assert report["met"] is True and report["attainment"] == 1.0 and "SLO" in p.stdout
    duration = run["summary"]["duration_s"]
    assert abs(report["request_goodput"] - 16 / duration) < 1e-6
    assert abs(report["token_goodput"] - sum(r["completion_tokens"] for r in run["requests"]) / duration) < 1e-6
    assert report["sessions_meeting"] == 4


def test_capacity_finds_the_batch_limit_of_the_mock(start_mock, tmp_path):
    # The mock decodes 8 streams at 100 tok/s; beyond 8 they share 800 tok/s. Sessions with
    # no think time each keep one stream decoding, so decode p50 >= 45 tok/s holds up to
    # 800 / 45 = 17.8 sessions: the capacity is 17.
    mock = start_mock("--prefill-tps", "1000000", "--decode-tps", "100", "--batch-size", "8", "--answer-tokens", "40",
                      "--jitter", "0", "--base-latency-ms", "0", cpu=0)
    rec = single_thread(tmp_path)
    out = tmp_path / "cap.html"
    p = capacity("-e", mock.url, "-m", "m", "-w", str(rec), "--think-time", "none", "--cache-mode", "allwarm",
                 "--slo", "decode_tps:p50>=45", "--step-duration", "2s", "--step-warmup", "0.5s", "--max", "64",
                 "--max-schedule-lag-ms", "50", "-o", str(out), cpu=1)
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(out.with_suffix(".json").read_text())
    assert abs(result["capacity"] - 17) <= 1, p.stdout
    assert result["first_failure"] == result["capacity"] + 1
    assert len(result["steps"]) <= 14
    assert f"Capacity: {result['capacity']:.0f} sessions within the SLO" in p.stdout
    assert all((s["load"] <= result["capacity"]) == s["passed"] for s in result["steps"])
    steps_dir = tmp_path / "cap-steps"
    assert (steps_dir / "step-01.json").exists()
    step1 = json.loads((steps_dir / "step-01.json").read_text())
    assert step1["settings"]["think_time"] == "none" and "1 session at once" in step1["load"]["model"]
    html = out.read_text()
    assert "<svg" in html and "Capacity:" in html
    # Server A against server B: here the same result twice.
    cmp = subprocess.run([asb_bin(), "compare", str(out.with_suffix(".json")), str(out.with_suffix(".json"))],
                         capture_output=True, text=True)
    assert cmp.returncode == 0 and "Capacity ratio (candidate / baseline): 1.00×" in cmp.stdout, cmp.stderr
    mixed = subprocess.run([asb_bin(), "compare", str(out.with_suffix(".json")), str(steps_dir / "step-01.json")],
                           capture_output=True, text=True)
    assert mixed.returncode != 0 and "not one of each" in mixed.stderr


def test_capacity_ends_when_a_step_cannot_be_measured(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--error-rate", "1", "--error-status", "500")
    rec = single_thread(tmp_path)
    p = capacity("-e", mock.url, "-m", "m", "-w", str(rec), "--slo", "ttft:p99<=1s", "--step-duration", "1s",
                 "--step-warmup", "0.2s", "--max-retries", "0", "-o", str(tmp_path / "cap.json"))
    assert p.returncode == 1, p.stdout + p.stderr
    result = json.loads((tmp_path / "cap.json").read_text())
    assert result["error"].startswith("step 1 (1 session): every request failed") and result["capacity"] is None
    assert "The search ended: step 1" in p.stdout


def test_capacity_stops_a_clearly_failing_step_early(start_mock, tmp_path):
    # Every answer takes 300 ms to its first token: TTFT p99 <= 100 ms fails at any load,
    # clearly so after 50 window requests. Without the early stop each step would take its
    # 20 s window; the reason is printed and kept.
    mock = start_mock("--prefill-tps", "1000000", "--decode-tps", "100000", "--answer-tokens", "4", "--jitter", "0",
                      "--base-latency-ms", "300")
    rec = single_thread(tmp_path)
    t0 = time.monotonic()
    p = capacity("-e", mock.url, "-m", "m", "-w", str(rec), "--think-time", "none", "--cache-mode", "allwarm",
                 "--slo", "ttft:p99<=100ms", "--start", "32", "--resolution", "16", "--step-duration", "20s",
                 "--step-warmup", "0.2s", "-o", str(tmp_path / "cap.json"))
    elapsed = time.monotonic() - t0
    result = json.loads((tmp_path / "cap.json").read_text())
    assert [s["load"] for s in result["steps"]] == [32, 16], p.stdout + p.stderr
    assert result["capacity"] is None and not any(s["passed"] for s in result["steps"])
    for n, step in enumerate(result["steps"], 1):
        assert step["reason"].startswith("stopped early, clearly failing: "), step["reason"]
        assert "beyond ttft:p99<=100ms, which allows 1 %" in step["reason"]
        assert f"step {n} stopped early, clearly failing" in p.stderr
    assert elapsed < 30, f"two 20 s steps ran to their end ({elapsed:.0f} s)"


def test_capacity_refuses_what_it_sets_itself_and_needs_an_slo(tmp_path):
    rec = single_thread(tmp_path)
    for flags, needle in [
        (["--slo", "ttft<=1s", "--sessions", "3"], "asb capacity sets --sessions for each step"),
        (["--slo", "ttft<=1s", "--duration", "5s"], "sets --duration"),
        ([], "needs --slo"),
        (["--slo", "ttft:p99<=2s,latency<=3s"], "unknown metric \"latency\""),
        (["--slo", "ttft<=1s", "--step-warmup", "5s", "--step-duration", "5s"], "--step-warmup must be shorter"),
        (["--slo", "ttft<=1s", "--shard", "0/2", "--seed", "1"], "--shard and --start-at are for asb replay"),
    ]:
        p = capacity("-w", str(rec), "--dry-run", *flags)
        assert p.returncode != 0 and needle in p.stderr, (flags, p.stderr)
    p = capacity("-w", str(rec), "--dry-run", "--slo", "ttft:p99<=2s", "--by", "rate", "--start", "0.5")
    assert p.returncode == 0 and "session arrival rate (open loop) from 0.50" in p.stdout, p.stdout + p.stderr


def test_the_builtin_claude_code_session_keeps_its_recorded_think_time():
    p = replay("--sessions", "2", "-r", "2", "--think-time", "recorded,scale=0.5")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Think time: recorded,scale=0.5 (recorded gaps between consecutive calls" in p.stdout
    assert "sessions: 2 started, 2 completed" in p.stdout


def test_a_tiny_capacity_search_on_the_real_llama_server(llama_server, tmp_path):
    rec = single_thread(tmp_path)
    out = tmp_path / "cap.json"
    p = capacity("-e", llama_server.url, "-m", llama_server.model, "-w", str(rec), "--think-time", "none",
                 "--max-tokens", "8", "--slo", "e2e:p99<=60s", "--step-duration", "3s", "--step-warmup", "0.5s",
                 "--max", "2", "-o", str(out), timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(out.read_text())
    assert result["capacity"] == 2 and [s["load"] for s in result["steps"]] == [1, 2], p.stdout
    assert all(s["requests"] > 0 and s["failed"] == 0 for s in result["steps"])
    assert "Capacity: at least 2 sessions (the most tried) within the SLO" in p.stdout

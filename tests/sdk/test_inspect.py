"""`asb inspect`, `asb timeline`, `asb validate` and `asb diff` on real recordings: the SDKs
drive `asb record` in front of `asb mock` (a tool call, two sub-agents at once, an upstream
error), then each command runs as a user would run it, and its output is checked against
what the recording holds. asb's own recordings (the shared fixtures) are read too."""

import collections
import json
import os
import pathlib
import re
import signal
import subprocess
import threading

import anthropic
import openai
import pytest

from conftest import Mock, asb_bin, require_fixture, spawn_asb
from recorder import Recorder

MSG = [{"role": "user", "content": "List the files."}]
TOOLS = [{"name": "Bash", "description": "Run a shell command", "input_schema": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}]
# Slow enough decoding that two concurrent streams visibly overlap on the timeline.
MOCK_FLAGS = ["--base-latency-ms", "0", "--prefill-tps", "inf", "--decode-tps", "100", "--jitter", "0",
              "--tool-call-rate", "1"]
OPUS = "asb/js-coding-opus/build-rest-api.jsonl"


def asb(*args):
    return subprocess.run([asb_bin(), *map(str, args)], capture_output=True, text=True, timeout=60)


def session(url, failing_url, variant):
    """What the agent under test does. The variant asks one sub-agent differently and takes
    one more turn in the main thread."""
    a = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
    first = a.messages.create(model="claude-x", max_tokens=40, messages=MSG, tools=TOOLS, tool_choice={"type": "any"})
    tool = next(b for b in first.content if b.type == "tool_use")
    follow = MSG + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "a.txt\nb.txt"}]},
    ]
    second = a.messages.create(model="claude-x", max_tokens=5, messages=follow, tools=TOOLS, tool_choice={"type": "none"})
    if variant:
        more = follow + [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in second.content]},
                         {"role": "user", "content": "Count the lines too."}]
        a.messages.create(model="claude-x", max_tokens=5, messages=more, tools=TOOLS, tool_choice={"type": "none"})

    def sub_agent(prompt):
        with a.messages.stream(model="claude-x", max_tokens=30, messages=[{"role": "user", "content": prompt}]) as s:
            s.get_final_message()

    prompts = ["Summarise a.txt", "Summarise b.txt in one line" if variant else "Summarise b.txt"]
    workers = [threading.Thread(target=sub_agent, args=(p,)) for p in prompts]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    o = openai.OpenAI(base_url=failing_url + "/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.InternalServerError):
        o.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}], max_tokens=8)


def record_session(tmp, variant):
    """Records one session; the failing upstream goes through a second recorder appending to
    the same file (two recorder runs in one recording). Returns (path, lines)."""
    mock, failing = Mock(MOCK_FLAGS, tmp), Mock(["--zero-delay", "--error-rate", "1"], tmp)
    rec = Recorder(mock.url, tmp)
    proc, failing_url = spawn_asb("record", "-e", failing.url, "-m", "asb-mock", "-o", str(rec.path), "-P", "0")
    try:
        session(rec.url, failing_url, variant)
        lines = rec.lines(6 if variant else 5)
    finally:
        rec.stop()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        mock.stop()
        failing.stop()
    return rec.path, lines


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return record_session(tmp_path_factory.mktemp("a"), variant=False)


@pytest.fixture(scope="module")
def variant_recording(tmp_path_factory):
    return record_session(tmp_path_factory.mktemp("b"), variant=True)


def percentile(values, p):
    """numpy.percentile(values, p), linear interpolation."""
    s = sorted(values)
    rank = p / 100 * (len(s) - 1)
    lo, hi = int(rank), min(int(rank) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)


# ---- inspect ----------------------------------------------------------------------------


def test_inspect_counts_what_the_recording_holds(recording):
    path, lines = recording
    assert len(lines) == 5 and len({l["experiment_id"] for l in lines}) == 2
    r = asb("inspect", path, "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["calls"] == {"total": 5, "completed": 4, "failed": 1, "by_outcome": {"completed": 4, "upstream_error": 1}}
    assert s["models"] == {"asb-mock": 4, "gpt-x": 1}
    assert s["tokens"]["input"] == sum(l["usage"]["input_tokens"] for l in lines if "usage" in l)
    assert s["tokens"]["output"] == sum(l["usage"]["output_tokens"] for l in lines if "usage" in l)
    tools = collections.Counter(t["name"] for l in lines for t in l.get("result", {}).get("tool_calls", []))
    assert tools["Bash"] >= 1 and s["tool_calls"] == dict(tools)
    [error] = s["errors"]
    failed = next(l for l in lines if l["outcome"] != "completed")
    assert (error["seq"], error["outcome"]) == (failed["seq"], "upstream_error")
    assert "injected by asb mock" in error["error"]
    # Main thread (2 turns), two sub-agents, the failing call.
    assert s["threads"]["count"] == 4
    assert sorted(t["calls"] for t in s["threads"]["calls"]) == [1, 1, 1, 2]
    totals = [l["total_time_s"] for l in lines if l["outcome"] == "completed"]
    lat = s["latency"]["total_time_s"]
    assert lat["count"] == 4
    for p in (50, 90, 99):
        assert lat[f"p{p}"] == pytest.approx(percentile(totals, p))
    assert s["latency"]["ttft_ms"]["count"] == sum(1 for l in lines if l["outcome"] == "completed" and "ttft_ms" in l)
    assert s["span"]["from"] == "start_offset_ms" and s["span"]["recorder_runs"] == 2
    assert s["span"]["seconds"] >= max(totals)

    text = asb("inspect", path)
    assert text.returncode == 0
    out = text.stdout
    assert "5 (4 completed, 1 failed): upstream_error 1" in out
    assert "asb-mock ×4" in out and "gpt-x ×1" in out
    assert f"Bash ×{tools['Bash']}" in out
    assert re.search(rf"#{failed['seq']} \(line \d+\) upstream_error: server_error: Internal server error", out), out
    assert re.search(r"^total_time\s+4\s", out, re.M) and re.search(r"^ttft\s+\d", out, re.M), out


# ---- timeline ---------------------------------------------------------------------------


def bars(out):
    """The bars of a timeline: {"#seq thread": (bar text, set of its columns)}, in row order."""
    lines = out.splitlines()
    ticks = next(l for l in lines if re.match(r"^\s+\+[-+]+$", l))
    col = ticks.index("+")
    rows = {}
    for l in lines:
        m = re.match(r"^\s*(#\d+ \S+)", l)
        if m and m.group(1) != "# thread":
            rows[m.group(1)] = (l[col:], {i for i, c in enumerate(l[col:]) if c in "=|x"})
    return rows


def test_timeline_shows_overlap_first_tokens_and_failures(recording):
    path, lines = recording
    r = asb("timeline", path, "--width", 120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert all(len(l) <= 120 for l in out.splitlines()), out
    assert "start times from start_offset_ms (2 recorder runs aligned by timestamp)" in out
    rows = bars(out)
    assert len(rows) == 5, out
    label = lambda l: f"#{l['seq']} {l['thread_id'][:6]}"
    subs = [l for l in lines if l["stream"]]
    assert len(subs) == 2
    (row_a, cols_a), (row_b, cols_b) = rows[label(subs[0])], rows[label(subs[1])]
    assert cols_a & cols_b, f"concurrent sub-agent calls should overlap:\n{out}"
    assert "|" in row_a and "|" in row_b, "first token marked"
    failed = next(l for l in lines if l["outcome"] != "completed")
    assert set(rows[label(failed)][0].strip()) <= {"x", "|"}, out
    assert not {"x"} & set(row_a + row_b)
    # Rows in arrival order: the first call of the session comes first.
    first = min(lines, key=lambda l: l["timestamp"])
    assert next(iter(rows)) == label(first)
    # Narrower: still fits, still five rows.
    narrow = asb("timeline", path, "--width", 70).stdout
    assert len(bars(narrow)) == 5 and all(len(l) <= 70 for l in narrow.splitlines()), narrow


def test_timeline_width_from_columns(recording):
    path, _ = recording
    r = subprocess.run([asb_bin(), "timeline", str(path)], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "80"}, timeout=60)
    assert r.returncode == 0 and max(len(l) for l in r.stdout.splitlines()) <= 80, r.stdout


# ---- validate ---------------------------------------------------------------------------


def test_validate_clean_recording(recording):
    path, _ = recording
    r = asb("validate", path)
    assert (r.returncode, r.stdout) == (0, "ok: 5 lines\n"), r.stdout + r.stderr


def test_validate_finds_a_leaked_key_and_a_broken_line(recording, tmp_path):
    path, _ = recording
    key = "sk-ant-api03-" + "A" * 40
    raw = path.read_text().splitlines()
    line = json.loads(raw[1])
    line["request"]["headers"]["x-api-key"] = key
    raw[1] = json.dumps(line)
    raw.append('{"seq": 9, "messages": [')
    bad = tmp_path / "leaky.jsonl"
    bad.write_text("\n".join(raw) + "\n")
    r = asb("validate", bad)
    assert r.returncode != 0
    out = r.stdout
    assert f"{bad}:2: request.headers.x-api-key: credential header not [redacted]: sk-a… (53 chars)" in out, out
    assert f"{bad}:6: not valid JSON" in out, out
    assert key not in out and "AAAA" not in out
    assert out.splitlines()[-1] == "6 lines, 2 problems"


# ---- diff -------------------------------------------------------------------------------


def test_diff_of_a_recording_with_itself_is_all_equal(recording):
    path, _ = recording
    r = asb("diff", path, path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "summary: 5 pairs (5 equal, 0 changed), 0 only in A, 0 only in B"
    d = json.loads(asb("diff", path, path, "--json").stdout)
    assert d["by_thread"] and d["summary"] == {"pairs": 5, "equal": 5, "changed": 0, "only_a": 0, "only_b": 0}


def test_diff_finds_the_extra_call_and_the_changed_prompt(recording, variant_recording):
    (a, _), (b, b_lines) = recording, variant_recording
    r = asb("diff", a, b)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.splitlines()[-1] == "summary: 5 pairs (4 equal, 1 changed), 0 only in A, 1 only in B", out
    extra = next(l for l in b_lines if l["messages"][-1].get("content") == "Count the lines too.")
    assert re.search(rf"^\+ #{extra['seq']} only in B  asb-mock  \"Count the lines too.\"$", out, re.M), out
    assert 'message 0 (user) differs at char 15: "Summarise b.txt" → "Summarise b.txt in one line"' in out, out
    assert re.search(r"timing: +ttft [\d.]+ms → [\d.]+ms \(×[\d.]+\), total [\d.]+s → [\d.]+s \(×[\d.]+\)", out), out

    d = json.loads(asb("diff", a, b, "--json").stdout)
    assert d["summary"] == {"pairs": 5, "equal": 4, "changed": 1, "only_a": 0, "only_b": 1}
    entries = [e for t in d["threads"] for e in t["entries"]]
    [only_b] = [e for e in entries if e["kind"] == "only_b"]
    assert only_b["seq"] == extra["seq"] and only_b["last_input"] == "Count the lines too."
    [changed] = [e for e in entries if e["kind"] == "pair" and not e["equal"]]
    assert changed["prompt"]["first_difference"]["at_char"] == 15
    assert changed["timing"]["total_time_s"]["ratio"] > 0


# ---- asb's own recordings -----------------------------------------------------------------


@pytest.fixture
def opus():
    return require_fixture(OPUS)


def test_asb_recording_inspect_timeline_validate(opus):
    lines = [json.loads(l) for l in opus.read_text().splitlines() if l.strip()]
    s = json.loads(asb("inspect", opus, "--json").stdout)
    assert s["lines"] == {"v1": 0, "asb": 15}
    assert s["calls"]["total"] == 15 and s["models"] == {"claude-opus-4-6": 15}
    assert s["tokens"]["input"] == sum(l["prompt_tokens"] for l in lines)
    assert s["tokens"]["output"] == sum(l["completion_tokens"] for l in lines)
    assert s["latency"]["ttft_ms"]["p50"] == pytest.approx(percentile([l["ttft_ms"] for l in lines], 50))
    assert s["threads"]["count"] == 0 and s["span"]["from"] == "timestamp"
    text = asb("inspect", opus).stdout
    assert "cache reads and writes unknown" in text and "claude-opus-4-6 ×15" in text

    t = asb("timeline", opus, "--width", 100)
    assert t.returncode == 0
    assert "asb lines have no start_offset_ms" in t.stdout
    assert len(bars(t.stdout)) == 15

    v = asb("validate", opus)
    assert (v.returncode, v.stdout) == (0, "ok: 15 lines\n")
    d = asb("diff", opus, opus)
    assert d.stdout.splitlines()[-1] == "summary: 15 pairs (15 equal, 0 changed), 0 only in A, 0 only in B"


# ---- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["inspect", "timeline", "validate"])
def test_bad_input_names_the_file_and_line(command, tmp_path):
    missing = asb(command, tmp_path / "nope.jsonl")
    assert missing.returncode != 0 and "cannot read recording" in missing.stderr and "nope.jsonl" in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1, "model": "m"}\n{"seq": "two"}\n')
    r = asb(command, bad)
    assert r.returncode != 0
    assert f"{bad}:2: field `seq`" in r.stdout + r.stderr
    assert "panicked" not in r.stderr


@pytest.mark.parametrize("command", ["inspect", "validate"])
def test_a_json_object_that_is_no_call_is_not_counted(command, recording, tmp_path):
    mixed = tmp_path / "mixed.jsonl"
    real = pathlib.Path(recording[0]).read_text().splitlines()
    mixed.write_text("\n".join([real[0], '{"foo": 1}', *real[1:]]) + "\n")
    r = asb(command, mixed)
    assert r.returncode != 0
    assert f"{mixed}:2: not a recorded call" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "panicked" not in r.stderr


def test_diff_bad_input(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"seq": 1, "model": "m"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1, "model": "m"}\nnot json\n')
    r = asb("diff", good, bad)
    assert r.returncode != 0 and f"{bad}:2: not valid JSON" in r.stderr

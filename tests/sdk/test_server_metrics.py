"""What the server saw, as `asb replay` reports it: the server's `/metrics` scraped through
the run (checked against `asb mock`'s truth log and its own `/metrics`), the prefix-cache
accounting with its warm-start warning and `--reset-prefix-cache`, a metrics endpoint that
is missing, slow or serves garbage (the run stays intact and says so), and — against the
real llama.cpp server — its series, its per-answer `timings`, and our TTFT never below the
server's own prompt time."""

import http.server
import json
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import asb_bin

SYSTEM = "You are a careful coding agent. " * 40


def replay(*args, timeout=240):
    return subprocess.run([asb_bin(), "replay", *args], capture_output=True, text=True, timeout=timeout)


def run_json(tmp_path, *args, name="run", ok=True):
    out = tmp_path / f"{name}.json"
    p = replay(*args, "-o", str(out))
    if ok:
        assert p.returncode == 0, p.stdout + p.stderr
    assert out.exists(), p.stdout + p.stderr
    return p, json.loads(out.read_text())


def recording(path, threads=2, turns=3, system=SYSTEM):
    """Agent threads whose conversation grows turn by turn (our format, no think time)."""
    lines, seq = [], 0
    for t in range(threads):
        msgs = [{"role": "system", "content": f"{system} Thread {t}."}]
        for turn in range(turns):
            seq += 1
            msgs.append({"role": "user", "content": f"Turn {turn} of thread {t}: carry on with the refactor."})
            body = {"model": "rec", "messages": list(msgs), "max_tokens": 12, "stream": True}
            msgs.append({"role": "assistant", "content": f"Recorded answer {seq} with a few words."})
            lines.append(json.dumps({
                "format_version": 1, "seq": seq, "model": "rec", "thread_id": f"t{t}",
                "request": {"method": "POST", "path": "/v1/chat/completions", "headers": {}, "body": body},
            }))
    path.write_text("\n".join(lines) + "\n")
    return path


def scrape(url):
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name.split("{")[0]] = float(value)
    return values


MOCK = ("--prefill-tps", "20000", "--decode-tps", "400", "--answer-tokens", "12", "--jitter", "0")


def test_scraped_series_and_counter_deltas_equal_the_mock_s_truth(start_mock, tmp_path):
    mock = start_mock(*MOCK)
    rec = recording(tmp_path / "rec.jsonl")
    p, run = run_json(tmp_path, "-e", mock.url, "-w", str(rec), "--sessions", "2", "-r", "2",
                      "--server-metrics-interval", "20ms", "--cache-mode", "realistic")
    truth = mock.truth(expect=12)
    assert len(truth) == 12 and all(t["outcome"] == "completed" for t in truth)
    sm = run["server_metrics"]
    assert sm["url"] == mock.url + "/metrics" and sm["server"] == "vllm" and sm["failed_scrapes"] == 0, sm["notes"]
    assert "Server metrics: " + mock.url + "/metrics every 20 ms" in p.stdout
    # Counter deltas over the run are the truth's sums (the scrape before the first request
    # and the one after the last bracket every request).
    s = sm["run"]
    assert s["prefix_cache_queries"] == sum(t["prompt_tokens"] for t in truth)
    assert s["prompt_tokens"] == sum(t["prompt_tokens"] for t in truth)
    assert s["prefix_cache_hits"] == sum(t["cached_tokens"] for t in truth)
    assert s["generation_tokens"] == sum(t["sent_tokens"] for t in truth)
    assert s["preemptions"] == 0
    assert s["prefix_cache_hit_rate"] == pytest.approx(s["prefix_cache_hits"] / s["prefix_cache_queries"])
    # Gauges: the cache only fills (64k blocks, no eviction); requests never exceed the sessions.
    series = sm["series"]
    t = series["t_ms"]
    assert t[0] < 0 and t[-1] >= run["summary"]["duration_s"] * 1000 * 0.99 and t == sorted(t)
    kv = series["concepts"]["kv_cache_usage"]
    written_blocks = sum(t["cache_written_tokens"] for t in truth) // 16
    assert kv[0] == 0 and kv[-1] == pytest.approx(written_blocks / 65536)
    assert kv == sorted(kv)
    running, waiting = series["concepts"]["requests_running"], series["concepts"]["requests_waiting"]
    assert max(r + w for r, w in zip(running, waiting)) <= 2 and max(running) >= 1
    assert running[0] == waiting[0] == 0 and running[-1] == waiting[-1] == 0
    # The mock's own /metrics after the run says the same as the last scrape.
    now = scrape(mock.url)
    raw = {r["key"].split("{")[0]: r["values"] for r in series["raw"]}
    for name in ("vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total", "vllm:generation_tokens_total"):
        assert raw[name][-1] == now[name], name
    # Each answer's cached tokens are the truth's, and the accounting sums them.
    by_id = {t["request_id"]: t for t in truth}
    assert all(r["cached_tokens"] == by_id[r["request_id"]]["cached_tokens"] for r in run["requests"])
    pc = run["prefix_cache"]
    assert pc["cached_tokens"] == s["prefix_cache_hits"] and pc["warnings"] == []
    assert pc["expected_hit_rate"] > 0 and all(r["expected_cached_tokens"] is not None for r in run["requests"])
    assert [x["session"] for x in pc["sessions"]] == sorted({r["session"] for r in run["requests"]})


def test_the_report_shows_the_server_and_compare_its_deltas(start_mock, tmp_path):
    mock = start_mock(*MOCK)
    rec = recording(tmp_path / "rec.jsonl", threads=1)
    html = tmp_path / "run.html"
    p = replay("-e", mock.url, "-w", str(rec), "--server-metrics-interval", "20ms", "-o", str(html))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Server (vllm): KV cache max" in p.stdout and "prefix-cache hit" in p.stdout
    page = html.read_text()
    assert "<h2>Server</h2>" in page and 'data-plot="server-requests"' in page and 'data-plot="server-cache"' in page
    md = tmp_path / "cold.md"
    cold = replay("-e", mock.url, "-w", str(rec), "--cache-mode", "allcold", "--server-metrics-interval", "20ms",
                  "-o", str(md))
    assert cold.returncode == 0, cold.stdout + cold.stderr
    text = md.read_text()
    assert "## Server" in text and "| prefix-cache hit rate (Δ hits / Δ queries) |" in text
    assert "server prefix-cache hit rate" in text  # its formula
    cmp = subprocess.run([asb_bin(), "compare", str(html.with_suffix(".json")), str(md.with_suffix(".json"))],
                         capture_output=True, text=True, timeout=60)
    assert cmp.returncode == 0, cmp.stderr
    assert "| Server KV-cache use max |" in cmp.stdout and "| Server prefix-cache hit rate |" in cmp.stdout


def test_a_warm_cache_is_warned_about_and_reset_prefix_cache_clears_it(start_mock, tmp_path):
    mock = start_mock(*MOCK)
    rec = recording(tmp_path / "rec.jsonl", threads=1)
    args = ("-e", mock.url, "-w", str(rec), "--cache-mode", "allwarm")
    _, first = run_json(tmp_path, *args, name="first")
    assert first["prefix_cache"]["warnings"] == []
    p, second = run_json(tmp_path, *args, name="second")
    warnings = second["prefix_cache"]["warnings"]
    assert any("prefix cache was warm at the start" in w for w in warnings), warnings
    assert any("already held KV cache before the first request" in w for w in warnings), warnings
    assert "WARNING: the server's prefix cache was warm" in p.stdout
    before = len(mock.truth())
    p, third = run_json(tmp_path, *args, "--reset-prefix-cache", name="third")
    assert third["prefix_cache"]["reset"] == {"done": True, "what": "POST /reset_prefix_cache: HTTP 200"}
    assert "Prefix-cache reset: done: POST /reset_prefix_cache: HTTP 200" in p.stdout
    assert third["prefix_cache"]["warnings"] == []
    assert mock.truth(expect=before + 3)[before]["cached_tokens"] == 0
    assert scrape(mock.url)["asb_mock:prefix_cache_resets_total"] == 1


class Metrics(http.server.BaseHTTPRequestHandler):
    """A stand-in /metrics: missing (404), slow (answers after 3 s) or garbage (HTML)."""
    mode = "missing"

    def do_GET(self):
        if self.mode == "missing":
            self.send_error(404)
            return
        if self.mode == "slow":
            time.sleep(3)
        body = b"<html><body>metrics moved</body></html>\n" if self.mode == "garbage" else b"up 1\n"
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("mode, note", [
    ("missing", "HTTP 404"),
    ("slow", "no answer within 1000 ms"),
    ("garbage", "not in Prometheus text format (line 1 of the metrics lines: \"<html><body>metrics moved</body></html>\")"),
])
def test_a_bad_metrics_endpoint_leaves_the_run_intact_with_a_note(start_mock, tmp_path, mode, note):
    handler = type("H", (Metrics,), {"mode": mode})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        mock = start_mock(*MOCK)
        rec = recording(tmp_path / "rec.jsonl", threads=1)
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        started = time.monotonic()
        p, run = run_json(tmp_path, "-e", mock.url, "-w", str(rec), "--server-metrics", url)
        wall = time.monotonic() - started
    finally:
        server.shutdown()
    assert run["summary"]["succeeded"] == 3 and run["summary"]["failed"] == 0
    sm = run["server_metrics"]
    assert sm["scrapes"] >= 2 and sm["failed_scrapes"] == sm["scrapes"] and sm["run"] is None
    assert any(note in n for n in sm["notes"]), sm["notes"]
    assert "Server metrics: " in p.stdout and " scrapes failed: " in p.stdout
    # The client never waits for the scraper: the probe (2 s at most) and the last scrape
    # (1 s) are all a slow endpoint can add, outside the measured run.
    assert wall < run["summary"]["duration_s"] + 8
    # The mock's own metrics are not what was asked for: nothing from it is in the run.
    assert sm["url"] == url


def test_the_default_metrics_url_is_probed_and_no_server_metrics_turns_it_off(start_mock, tmp_path):
    mock = start_mock(*MOCK)
    rec = recording(tmp_path / "rec.jsonl", threads=1)
    _, run = run_json(tmp_path, "-e", mock.url + "/v1", "-w", str(rec), name="on")
    assert run["server_metrics"]["url"] == mock.url + "/metrics" and run["server_metrics"]["run"]
    _, off = run_json(tmp_path, "-e", mock.url, "-w", str(rec), "--no-server-metrics", name="off")
    assert "server_metrics" not in off
    bad = replay("-e", mock.url, "-w", str(rec), "--server-metrics-interval", "5ms", "--dry-run")
    assert bad.returncode != 0 and "expected an interval from 10ms to 60s" in bad.stderr


def test_against_llama_cpp_series_timings_and_our_ttft_above_its_prompt_time(llama_server, tmp_path):
    # A prompt no earlier test sent: llama.cpp's host-memory prompt cache (--cache-ram) is
    # not cleared by the slot erase, and would restore a prefix another test sent before.
    rec = recording(tmp_path / "rec.jsonl", threads=1, turns=3, system=f"Run {time.time_ns()}. {SYSTEM}")
    p, run = run_json(tmp_path, "-e", llama_server.url, "-m", llama_server.model, "-w", str(rec),
                      "--max-concurrent", "1", "--cache-mode", "allwarm", "--max-tokens", "8",
                      "--server-metrics-interval", "100ms", "--reset-prefix-cache")
    assert all(r["ok"] for r in run["requests"]) and len(run["requests"]) == 3
    reset = run["prefix_cache"]["reset"]
    assert reset["done"] and "action=erase" in reset["what"] and "--cache-ram 0" in reset["what"], reset
    sm = run["server_metrics"]
    assert sm["server"] == "llama.cpp" and sm["failed_scrapes"] == 0, sm["notes"]
    keys = {r["key"] for r in sm["series"]["raw"]}
    assert {"llamacpp:requests_processing", "llamacpp:prompt_tokens_total", "llamacpp:tokens_predicted_total"} <= keys
    s = sm["run"]
    assert s["generation_tokens"] == sum(r["completion_tokens"] for r in run["requests"])
    assert s["prompt_tokens"] == sum(r["prompt_tokens"] for r in run["requests"])
    assert s["prefix_cache_hits"] == sum(r["cached_tokens"] for r in run["requests"])
    assert s["requests_running"]["max"] == 1
    # After the reset the first request found nothing cached; later turns extend it.
    assert run["requests"][0]["cached_tokens"] == 0 and run["requests"][2]["cached_tokens"] > 0
    for r in run["requests"]:
        t = r["server_timings"]
        assert t["prompt_n"] + t["cache_n"] == r["prompt_tokens"] and t["predicted_n"] == r["completion_tokens"]
        assert r["ttft_ms"] >= t["prompt_ms"], (r["ttft_ms"], t)
    c = run["clock_check"]
    assert c["requests"] == 3 and c["ttft_below_server_prompt"] == 0 and c["ttft_minus_server_prompt_ms"]["min"] >= 0
    assert "Server timings (3 requests): TTFT − server prompt_ms p50" in p.stdout


def test_capacity_shows_the_server_s_kv_cache_max_per_step(start_mock, tmp_path):
    # A small cache (4,096 blocks of 16 tokens): every session's poisoned context fills
    # more of it, so the KV-cache use the mock reports (blocks held / capacity) only grows.
    mock = start_mock(*MOCK, "--cache-blocks", "4096")
    rec = recording(tmp_path / "rec.jsonl", threads=1)
    out = tmp_path / "cap.json"
    p = subprocess.run([asb_bin(), "capacity", "-e", mock.url, "-w", str(rec), "--think-time", "none",
                        "--slo", "ttft:p99<=10s", "--step-duration", "1s", "--step-warmup", "0s", "--max", "2",
                        "--server-metrics-interval", "50ms", "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    steps = json.loads(out.read_text())["steps"]
    assert len(steps) == 2 and all(0 < s["kv_cache_usage_max"] <= 1 for s in steps), steps
    assert steps[1]["kv_cache_usage_max"] >= steps[0]["kv_cache_usage_max"]
    assert "server KV max" in p.stdout and "| server KV max" in p.stderr

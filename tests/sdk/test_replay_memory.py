"""A big replay's memory stays bounded: past a count its samples are spilled to a private
temporary file and only compact rows are held, inter-token gaps past a cap are folded into
HDR histograms. The caps are lowered here through the hidden variables ASB_SPILL_AFTER
and ASB_ITL_RAW_CAP, so a few thousand requests take the path a million would. Checked
the way a user sees it: the run JSON has every request (each with its gaps), every
per-request percentile is exact, the ITL figures are within their stated bound of the
exact ones, the reports say so, the spill file is gone afterwards, and a run stopped by
SIGTERM still writes its report from the spill."""

import json
import math
import os
import signal
import subprocess
import time

from conftest import asb_bin

SPILL = {"ASB_SPILL_AFTER": "300", "ASB_ITL_RAW_CAP": "2000"}


def one_line(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"seq": 1, "messages": [{"role": "user", "content": "hi"}], "model": "m",
                                "max_tokens": 64, "stream": True}) + "\n")
    return path


def replay(tmp_path, *args, env=None):
    return subprocess.Popen([asb_bin(), "replay", "-w", str(one_line(tmp_path)), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def percentile(values, p):
    """numpy's default (linear between the two nearest ranks), as asb's stats.rs."""
    s = sorted(values)
    rank = p / 100 * (len(s) - 1)
    lo = int(rank)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)


def nearest_rank(values, q):
    s = sorted(values)
    return s[min(max(math.ceil(q * len(s)), 1), len(s)) - 1]


def spill_files(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".asb-replay-spill-"))


def test_a_spilled_run_keeps_every_request_exact_percentiles_and_bounded_itl(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = replay(tmp_path, "-r", "3000", "--mock-args", "--decode-tps 5000 --prefill-tps 1000000 --answer-tokens 6", "--max-concurrent", "8",
                  "-o", str(out / "run.html"), env=SPILL)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    run = json.loads((out / "run.json").read_text())
    requests = run["requests"]
    assert len(requests) == run["summary"]["requests"] == 3000
    starts = [r["start_ms"] for r in requests]
    assert starts == sorted(starts), "in start order"
    ok = [r for r in requests if r["ok"]]
    assert len(ok) == 3000

    # Per-request figures: exactly the percentiles of the rows in the file.
    for metric in ("ttft_ms", "e2e_ms", "tpot_ms", "decode_tok_per_s", "prefill_total_tok_per_s"):
        values = [r[metric] for r in ok if r[metric] is not None]
        got = run["summary"]["metrics"][metric]
        for p in (50, 90, 99):
            assert math.isclose(got[f"p{p}"], percentile(values, p), rel_tol=1e-12), (metric, p)
        assert got["count"] == len(values)

    # Inter-token gaps: every one is in the file; the figures from the histograms are
    # within the stated bound (0.1 % of the nearest-rank gap), count, min, max exact.
    gaps = [g for r in ok for g in r["itl_ms"]]
    assert len(gaps) > 2000, "past the raw-gap cap"
    itl = run["summary"]["metrics"]["itl_ms"]
    assert (itl["count"], itl["min"], itl["max"]) == (len(gaps), min(gaps), max(gaps))
    assert math.isclose(itl["mean"], sum(gaps) / len(gaps), rel_tol=1e-9)
    for p in (50, 90, 95, 99):
        exact = nearest_rank(gaps, p / 100)
        assert abs(itl[f"p{p}"] - exact) <= 0.001 * exact + 1e-6, (p, itl[f"p{p}"], exact)
    assert "HDR histograms" in run["itl_bound"] and "0.1 %" in run["itl_bound"]

    # Session figures: concluded from the spilled sessions read back pass by pass (none
    # held), exactly those of the sessions in the file; the plot of sessions in flight too.
    sessions = run["sessions"]
    stats = run["load"]["sessions"]
    assert stats["started"] == stats["completed"] == len(sessions) == 3000
    assert [s["due_ms"] for s in sessions] == sorted(s["due_ms"] for s in sessions), "in due order"
    durations = [(s["end_ms"] - s["due_ms"]) / 1000 for s in sessions]
    for p in (50, 90, 99):
        assert math.isclose(stats["duration_s"][f"p{p}"], percentile(durations, p), rel_tol=1e-12), p
    assert stats["calls"]["sum"] == sum(s["sent"] for s in sessions) == 3000

    # The reports say which figures carry the bound; the plots say they are a sample.
    page = (out / "run.html").read_text()
    assert "Inter-token latency carries a bound" in page
    assert "The plots draw" in page and "3000 requests, evenly spaced" in page
    assert "sessions in flight" in page
    assert "ITL: ITL figures from HDR histograms" in stdout
    report = subprocess.run([asb_bin(), "report", "-i", str(out / "run.json")], capture_output=True, text=True)
    assert report.returncode == 0 and "HDR histograms" in report.stdout, report.stderr

    assert spill_files(out) == [], "the spill file is removed at the end"


def test_a_run_under_the_caps_is_exact_and_says_no_bound(tmp_path):
    proc = replay(tmp_path, "-r", "400", "--mock-args", "--decode-tps 5000 --prefill-tps 1000000 --answer-tokens 4", "--max-concurrent", "4",
                  "-o", str(tmp_path / "run.json"), env={"ASB_SPILL_AFTER": "100"})
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    run = json.loads((tmp_path / "run.json").read_text())
    assert len(run["requests"]) == 400 and "itl_bound" not in run
    gaps = [g for r in run["requests"] for g in r["itl_ms"]]
    itl = run["summary"]["metrics"]["itl_ms"]
    assert itl["count"] == len(gaps)
    assert math.isclose(itl["p50"], percentile(gaps, 50), rel_tol=1e-12)
    assert math.isclose(itl["p99"], percentile(gaps, 99), rel_tol=1e-12)
    assert spill_files(tmp_path) == []


def test_sigterm_still_writes_the_report_from_the_spill(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = replay(tmp_path, "-r", "100000", "--mock-args", "--decode-tps 400 --answer-tokens 4 --prefill-tps 1000000",
                  "--max-concurrent", "16", "-o", str(out / "run.json"), env={"ASB_SPILL_AFTER": "50"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not spill_files(out):
        time.sleep(0.1)
    assert spill_files(out), "the run spills past 50 requests"
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr  # 128 + SIGTERM, after the report is written
    run = json.loads((out / "run.json").read_text())
    assert "interrupted by SIGTERM" in run["aborted"]
    n = len(run["requests"])
    assert 50 < n < 100000 and n == run["summary"]["requests"]
    assert [r["start_ms"] for r in run["requests"]] == sorted(r["start_ms"] for r in run["requests"])
    assert spill_files(out) == []

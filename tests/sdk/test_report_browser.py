"""The HTML report and the compare page as a person sees them: rendered by headless
Chromium (Debian's package), checked for plots that are there and not empty and for
nothing wider than the window, with the screenshots kept under $ASB_ARTIFACTS (default:
pytest's tmp dir) for a person to look at. Also the CSV export and --label end to end."""

import csv
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import asb_bin

WINDOW = "1280,2400"

# Measures the page once it is laid out and writes what it found into the DOM, for
# --dump-dom to carry out. Only the test's copy of a page gets it: reports have no script.
PROBE = """<script>
(() => {
  const out = {width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, plots: [], wide: []};
  for (const f of document.querySelectorAll('figure.plot')) {
    const svg = f.querySelector('svg');
    const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0, right: 0};
    out.plots.push({id: f.dataset.plot, marks: Number(f.dataset.marks || 0), width: r.width, height: r.height,
                    right: r.right, shapes: svg ? svg.querySelectorAll('circle,polyline,rect,line,path').length : 0,
                    texts: svg ? svg.querySelectorAll('text').length : 0});
  }
  out.tables = [...document.querySelectorAll('.scroll')].map(d => [d.scrollWidth, d.clientWidth]);
  for (const e of document.querySelectorAll('main *')) {
    if (e.closest('.scroll')) continue;
    const r = e.getBoundingClientRect();
    if (r.right > window.innerWidth + 1) out.wide.push(e.tagName + '.' + e.className);
  }
  const pre = document.createElement('pre');
  pre.id = 'asb-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def chromium():
    """Debian's chromium, installed with apt-get when missing and possible; else None."""
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], capture_output=True, timeout=1200, env=env)
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    path = chromium()
    if not path:
        pytest.skip("headless Chromium not found and cannot be installed (apt-get install chromium, as root)")
    return path


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    d = Path(os.environ.get("ASB_ARTIFACTS") or tmp_path_factory.mktemp("report-artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    print(f"\nreport screenshots and pages: {d}")
    return d


def chrome(browser, *args):
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={WINDOW}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def look(browser, page: Path, artifacts: Path):
    """Screenshot of `page` into artifacts, and the probe's measurements of it."""
    shot = artifacts / (page.stem + ".png")
    p = chrome(browser, f"--screenshot={shot}", page.resolve().as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000, p.stderr[-2000:]
    probed = page.with_name(page.stem + ".probe.html")
    probed.write_text(page.read_text().replace("</body>", PROBE + "\n</body>"))
    p = chrome(browser, "--dump-dom", probed.resolve().as_uri())
    start = p.stdout.find('<pre id="asb-probe">')
    assert start >= 0, p.stderr[-2000:]
    body = p.stdout[start + len('<pre id="asb-probe">'):]
    import html
    return json.loads(html.unescape(body[: body.index("</pre>")]))


def asb(*args, timeout=240):
    p = subprocess.run([asb_bin(), *args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    asb("replay", "-r", "2", "--sessions", "2", "--label", "base", "-o", str(d / "base.json"))
    asb("replay", "-r", "2", "--sessions", "2", "--label", "slow decode", "--mock-args", "--decode-tps 60",
        "-o", str(d / "cand.csv"))
    return d


def check_page(found, expected_plots):
    assert found["scrollWidth"] <= found["width"], f"the page is wider than the window: {found}"
    assert not found["wide"], f"elements past the window's edge: {found['wide']}"
    # Tables may scroll in their box, but at 1280 px these fit.
    assert all(sw <= cw for sw, cw in found["tables"]), found["tables"]
    ids = [p["id"] for p in found["plots"]]
    assert ids == expected_plots, ids
    for p in found["plots"]:
        assert p["width"] > 300 and p["height"] > 150, p
        assert p["right"] <= found["width"], p
        assert p["marks"] > 0 and p["shapes"] > 10 and p["texts"] > 4, p


def test_report_renders_every_plot_without_overflow(browser, artifacts, runs):
    page = artifacts / "report.html"
    asb("report", "-i", str(runs / "base.json"), "-o", str(page))
    text = page.read_text()
    assert "<script" not in text and "🟢" not in text and "base" in text
    found = look(browser, page, artifacts)
    check_page(found, ["ttft-ecdf", "itl-ecdf", "ttft-vs-prompt", "decode-vs-context", "throughput", "in-flight",
                       "server-requests", "server-cache", "timeline"])
    marks = {p["id"]: p["marks"] for p in found["plots"]}
    run = json.loads((runs / "base.json").read_text())
    assert marks["ttft-vs-prompt"] == marks["decode-vs-context"] == len(run["requests"])


def test_compare_page_overlays_both_runs(browser, artifacts, runs):
    page = artifacts / "compare.html"
    asb("compare", str(runs / "base.json"), str(runs / "cand.json"), "-o", str(page))
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "| Metric |" not in text
    assert "baseline: base" in text and "candidate: slow decode" in text
    # 60 tok/s against 200: a change far beyond the noise.
    assert '<span class="badge worse">worse</span>' in text
    found = look(browser, page, artifacts)
    check_page(found, ["cmp-ttft-ecdf", "cmp-itl-ecdf", "cmp-decode-ecdf", "cmp-throughput"])


def test_capacity_page_draws_its_curve_within_the_window(browser, artifacts, tmp_path):
    # The embedded mock's batch model (800 tok/s shared beyond 4 streams, 200 each below):
    # decode p50 >= 150 tok/s holds up to 5 sessions, so the search has passing and failing
    # steps to mark.
    page = artifacts / "capacity.html"
    rec = tmp_path / "short.jsonl"
    rec.write_text("".join(json.dumps({"seq": n + 1, "model": "m", "max_tokens": 30, "messages": [
        {"role": "user", "content": f"step {n}"}]}) + "\n" for n in range(4)))
    asb("capacity", "-w", str(rec), "-m", "m", "--mock-args",
        "--decode-tps 200 --batch-size 4 --answer-tokens 30 --jitter 0 --prefill-tps 1000000 --base-latency-ms 0",
        "--think-time", "none", "--cache-mode", "allwarm", "--slo", "decode_tps:p50>=150",
        "--step-duration", "1.5s", "--step-warmup", "0.3s", "--max", "16", "--max-schedule-lag-ms", "100",
        "-o", str(page))
    result = json.loads(page.with_suffix(".json").read_text())
    assert any(s["passed"] for s in result["steps"]) and not all(s["passed"] for s in result["steps"]), result
    text = page.read_text()
    assert "<script" not in text and "Capacity:" in text
    found = look(browser, page, artifacts)
    check_page(found, ["capacity-curve"])
    [plot] = found["plots"]
    with_ttft = sum(1 for s in result["steps"] if s["ttft_p99_ms"] is not None)
    assert plot["marks"] == with_ttft + len(result["steps"])
    # Every step's mark is a circle; the mesh, lines and the capacity line are more shapes.
    assert plot["shapes"] >= plot["marks"] + 4, plot


def test_csv_has_a_row_per_request_and_the_label(runs, tmp_path):
    rows = list(csv.DictReader((runs / "cand.csv").open()))
    run = json.loads((runs / "cand.json").read_text())
    assert run["label"] == "slow decode"
    assert len(rows) == len(run["requests"]) > 0
    assert {r["label"] for r in rows} == {"slow decode"}
    assert [float(r["ttft_ms"]) for r in rows] == [q["ttft_ms"] for q in run["requests"]]
    out = tmp_path / "again.csv"
    asb("report", "-i", str(runs / "cand.json"), "-o", str(out))
    assert out.read_text() == (runs / "cand.csv").read_text()
    p = asb("report", "-i", str(runs / "cand.json"), "-f", "csv")
    assert p.stdout.startswith("label,task_id,")

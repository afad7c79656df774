"""Prints bench/serve.sh's markdown tables from its JSON lines: python3 report.py RESULTS.jsonl"""

from __future__ import annotations

import json
import sys
from statistics import mean, median

MiB = 1024 * 1024
rows = [json.loads(line) for line in open(sys.argv[1])]


def sel(**kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def ratio(a, b) -> str:
    return f"{a / b:.2f}" if a and b else "–"


def lat(tool: str, p: str) -> float:
    """Mean over rounds of one latency percentile (µs)."""
    return mean(r["r"]["latency_us"][p] for r in sel(bench="latency", tool=tool))


def load(tool: str, mb: int, key: str) -> float:
    """Median over rounds of a load figure."""
    return median(r["r"][key] for r in sel(bench="load", tool=tool, mb=mb))


machine = {r["when"]: r for r in sel(bench="machine")}
print(f"results: {sys.argv[1]}")
if machine:
    print(f"commit {machine['start'].get('commit')}; load average at start {machine['start']['loadavg']}, "
          f"at end {machine.get('end', {}).get('loadavg')}\n")

recs = {r["name"]: r for r in sel(bench="recording")}
print("| recording | calls | asb JSONL (MB) | AgentTape YAML + assets (MB) |")
print("|---|---:|---:|---:|")
for r in recs.values():
    y = "–" if r["yaml_bytes"] is None else f"{r['yaml_bytes'] / 1e6:.1f} + {r['assets_bytes'] / 1e6:.1f}"
    print(f"| {r['name']} | {r['calls']:,} | {r['jsonl_bytes'] / 1e6:.1f} | {y} |")
print()

# ---- summary against the goals ----------------------------------------------------------------
at_mean = lat("agenttape", "mean")
print("| measure | goal | asb serve | AgentTape 0.1.8 | asb / AgentTape |")
print("|---|---|---:|---:|---:|")
for p, goal in (("p50", "≤ 30"), ("p99", "≤ 100")):
    a, t = lat("asb-rust-client", p), lat("agenttape", p)
    print(f"| small call latency {p} (µs) — asb: loopback, Rust client; AgentTape: in-process | {goal} | {a:.1f} | {t:.1f} | {ratio(a, t)} |")
at_rate = 1e6 / at_mean
for r in sel(bench="throughput"):
    x = r["r"]
    c = x["concurrency"]
    peer = f"{at_rate:,.0f} (in-process, 1 thread)" if c == 1 else "–"
    print(f"| small calls/s, {c} connection{'s' if c > 1 else ''} | ≥ 20,000 | {x['calls_per_s']:,.0f} | {peer} | "
          f"{ratio(x['calls_per_s'], at_rate) if c == 1 else '–'} |")
for mb, goal_s in ((50, 0.15), (100, 0.3)):
    t = sel(bench="load", tool="agenttape", mb=mb)[0]["r"]
    fs = load("asb-file", mb, "start_to_first_answer_ms") / 1e3
    ds = load("asb-dir", mb, "first_request_to_answer_ms") / 1e3
    ts = t["open_to_first_answer_ms"] / 1e3
    print(f"| {mb} MB recording: start → first answer (s) — AgentTape: open + first call (+{t['import_s']:.2f} s of imports) | ≤ {goal_s} | "
          f"{fs:.2f} | {ts:.2f} | {ratio(fs, ts)} |")
    print(f"| {mb} MB, directory mode: first call → answer, loaded on first use (s) | ≤ {goal_s} | {ds:.2f} | – | {ratio(ds, ts)} |")
    fb = recs[f"s{mb}"]["jsonl_bytes"]
    hwm = load("asb-file", mb, "vm_hwm_kb") * 1024
    t_hwm, t_base = t["vm_hwm_kb"] * 1024, t["vm_hwm_kb_before_open"] * 1024
    print(f"| {mb} MB: peak RSS serving every call (MiB, × JSONL) — AgentTape: growth of the process from opening "
          f"(whole process) | ≤ 1.5× ({1.5 * fb / MiB:.0f}) | {hwm / MiB:.0f} ({hwm / fb:.2f}×) | +{(t_hwm - t_base) / MiB:.0f} "
          f"({t_hwm / MiB:.0f}) | {ratio(hwm, t_hwm - t_base)} |")
dirs = sel(bench="dir")
for r in dirs:
    s = [x["vm_rss_kb"] / 1024 for x in r["r"]["samples"][1:]]
    print(f"| 1,000 recordings in turn, --idle-release {r['idle_release']}: RSS after every 100 (MiB, min–max) | flat | "
          f"{min(s):.0f}–{max(s):.0f} | – | – |")
print()

# ---- latency detail ---------------------------------------------------------------------------
names = {
    "asb-rust-client": ("asb serve", "Rust client, 1 connection"),
    "nginx-floor": ("nginx `return 200` with call 1's answer (loopback HTTP floor)", "Rust client, 1 connection"),
    "asb-openai-sdk": ("asb serve", "openai Python SDK"),
    "mock-openai-sdk": ("asb mock --zero-delay (no replay work)", "openai Python SDK"),
    "agenttape": ("AgentTape 0.1.8, in-process, mode=\"none\"", "openai Python SDK, patched"),
}
print("| small non-streamed call (mean of 2 rounds) | client | p50 (µs) | p99 (µs) | p50 / AgentTape |")
print("|---|---|---:|---:|---:|")
at50 = lat("agenttape", "p50")
for tool, (what, client) in names.items():
    if sel(bench="latency", tool=tool):
        p50 = lat(tool, "p50")
        print(f"| {what} | {client} | {p50:.1f} | {lat(tool, 'p99'):.1f} | {ratio(p50, at50)} |")
print()

# ---- throughput detail ------------------------------------------------------------------------
ml = sel(bench="many-load")
if ml:
    m = ml[0]
    print(f"Throughput recording: {recs['many']['calls']:,} calls, {recs['many']['jsonl_bytes'] / 1e6:.0f} MB, loaded in "
          f"{m['seconds']:.1f} s, server VmHWM {m['vm_hwm_kb'] / 1024:.0f} MiB "
          f"({m['vm_hwm_kb'] * 1024 / recs['many']['jsonl_bytes']:.1f}× the file).\n")
print("| connections | calls | calls/s | p50 (µs) | p99 (µs) | server CPU (µs/call) | client CPU (µs/call) |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for r in sel(bench="throughput"):
    x = r["r"]
    print(f"| {x['concurrency']} | {x['calls']:,} | {x['calls_per_s']:,.0f} | {x['latency_us']['p50']:.0f} | "
          f"{x['latency_us']['p99']:.0f} | {x['server_cpu_us_per_call']:.1f} | {x['client_cpu_s'] * 1e6 / x['calls']:.1f} |")
print()

# ---- load detail ------------------------------------------------------------------------------
print("| recording | asb: start → listening (s) | asb: start → first answer (s) | asb dir: first call → answer (s) | "
      "asb VmHWM (MiB) | AgentTape: open + first call (s) | AgentTape VmHWM (MiB) | per later call p50, asb / AgentTape (µs) |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for mb in (50, 100):
    t = sel(bench="load", tool="agenttape", mb=mb)[0]["r"]
    fs = sorted(r["r"]["start_to_first_answer_ms"] / 1e3 for r in sel(bench="load", tool="asb-file", mb=mb))
    ds = sorted(r["r"]["first_request_to_answer_ms"] / 1e3 for r in sel(bench="load", tool="asb-dir", mb=mb))
    print(f"| {mb} MB ({recs[f's{mb}']['calls']} calls) | {load('asb-file', mb, 'listening_ms') / 1e3:.2f} | "
          f"{' / '.join(f'{x:.2f}' for x in fs)} | {' / '.join(f'{x:.2f}' for x in ds)} | "
          f"{load('asb-file', mb, 'vm_hwm_kb') / 1024:.0f} | {t['open_to_first_answer_ms'] / 1e3:.2f} | "
          f"{t['vm_hwm_kb'] / 1024:.0f} (before opening: {t['vm_hwm_kb_before_open'] / 1024:.0f}) | "
          f"{median(r['r']['latency_us']['p50'] for r in sel(bench='load', tool='asb-file', mb=mb)):.0f} / "
          f"{t['rest_latency_us']['p50']:.0f} |")
print()

# ---- directory detail -------------------------------------------------------------------------
if dirs:
    print("| recordings served | " + " | ".join(f"RSS (MiB), --idle-release {r['idle_release']}" for r in dirs) + " |")
    print("|---:|" + "---:|" * len(dirs))
    for i, s in enumerate(dirs[0]["r"]["samples"]):
        print(f"| {s['recordings']} | " + " | ".join(f"{r['r']['samples'][i]['vm_rss_kb'] / 1024:.0f}" for r in dirs) + " |")
    print("| 2.5 s after the last | " + " | ".join(f"{r['r']['vm_rss_kb_after_idle'] / 1024:.0f}" for r in dirs) + " |")
    print("| walk time (s), calls | " + " | ".join(f"{r['r']['seconds']:.1f}, {r['r']['calls']:,}" for r in dirs) + " |")
    print()

errs = {b: sum(r["r"].get("errors", 0) for r in sel(bench=b)) for b in ("latency", "throughput", "load", "dir")}
print("errors (non-200 answers): " + ", ".join(f"{k} {v}" for k, v in errs.items()))

"""Sharded replay (`--shard K/N`, `--start-at`) and the merge (`asb report -i 'shard-*.json'`):
N shards send exactly what one run sends, the merged report's figures are those of the
union of the raw samples, mismatched or missing shards are said, and the Kubernetes
Indexed Job in deploy/kubernetes/ runs as N local processes with the environment the Job
gives its pods."""

import json
import os
import pathlib
import re
import subprocess
import sys
import time

import yaml

from conftest import asb_bin

REPO = pathlib.Path(__file__).resolve().parents[2]
SYSTEM = "You are a careful coding agent working in a large repository. " * 4


def task_lines(path, topic, turns=3):
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Please fix the {topic} module."}]
    lines = []
    for seq in range(1, turns + 1):
        lines.append(json.dumps({"seq": seq, "messages": list(messages), "model": "rec", "max_tokens": 6,
                                 "stream": True}))
        messages += [{"role": "assistant", "content": f"Step {seq} done for the {topic}."},
                     {"role": "user", "content": f"Good, now step {seq + 1} of the {topic} work please."}]
    path.write_text("\n".join(lines) + "\n")


def scenario(tmp_path):
    folder = tmp_path / "scenario"
    folder.mkdir(exist_ok=True)
    task_lines(folder / "parser.jsonl", "parser")
    task_lines(folder / "network.jsonl", "network layer", turns=2)
    (folder / "scenario.json").write_text(json.dumps({"name": "two", "tasks": [
        {"id": "parser", "recording": "parser.jsonl"}, {"id": "network", "recording": "network.jsonl"}]}))
    return folder


def replay(*args, env=None):
    return subprocess.Popen([asb_bin(), "replay", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out, err


def bodies(recorder, expect):
    lines = recorder.lines(expect=expect)
    return sorted(json.dumps(line["request"]["body"], sort_keys=True) for line in lines)


def percentile(values, p):
    """numpy's default (linear between the two nearest ranks), as asb's stats.rs."""
    s = sorted(values)
    rank = (len(s) - 1) * p / 100
    lo = int(rank)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)


def test_shards_send_what_one_run_sends_and_merge_exactly(start_mock, start_record, tmp_path):
    mock = start_mock("--decode-tps", "2000", "--answer-tokens", "6")
    folder = scenario(tmp_path)
    common = ["-m", "m", "-w", str(folder), "-r", "3", "--sessions", "4", "--seed", "11"]
    whole_rec = start_record(mock.url)
    finish(replay("-e", whole_rec.url, *common, "-o", str(tmp_path / "whole.json")))
    whole = bodies(whole_rec, 15)
    assert len(whole) == 15  # 3 repetitions × (3 + 2) requests

    for n in (2, 4):
        rec = start_record(mock.url)
        out = tmp_path / f"n{n}"
        start_at = f"{time.time() + 1.5:.3f}"
        procs = [replay("-e", rec.url, *common, "--shard", f"{k}/{n}", "--start-at", start_at,
                        "-o", str(out / f"shard-{k}.json")) for k in range(n)]
        for p in procs:
            finish(p)
        assert bodies(rec, 15) == whole, f"{n} shards sent other bodies than one run"
        shards = [json.loads((out / f"shard-{k}.json").read_text()) for k in range(n)]
        assert all(s["shard"]["count"] == n and s["shard"]["started_late_ms"] < 500 for s in shards)
        sessions = [x["session"] for s in shards for x in s["sessions"]]
        assert len(sessions) == len(set(sessions)) == 6, "each execution once, session ids unique"

        merged_path = out / "merged.json"
        p = subprocess.run([asb_bin(), "report", "-i", str(out / "shard-*.json"), "-o", str(merged_path)],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        merged = json.loads(merged_path.read_text())
        assert merged["merged"]["present"] == list(range(n)) and merged["merged"]["missing"] == []
        assert merged["merged"]["start_spread_ms"] < 500
        requests = merged["requests"]
        assert len(requests) == 15 and sorted(r["start_ms"] for r in requests) == [r["start_ms"] for r in requests]
        ttfts = [r["ttft_ms"] for r in requests if r["ok"]]
        summary = merged["summary"]["metrics"]["ttft_ms"]
        assert summary["count"] == len(ttfts) == 15
        for key, p_ in (("p50", 50), ("p90", 90), ("p99", 99)):
            assert abs(summary[key] - percentile(ttfts, p_)) < 1e-9, (key, summary[key])
        gaps = [g for r in requests for g in r["itl_ms"]]
        assert merged["summary"]["metrics"]["itl_ms"]["count"] == len(gaps)
        assert abs(merged["summary"]["metrics"]["itl_ms"]["p99"] - percentile(gaps, 99)) < 1e-9
        assert "Merged from" in subprocess.run([asb_bin(), "report", "-i", str(merged_path)], capture_output=True,
                                               text=True, timeout=60).stdout

        # The merge read each shard only up to its columns. The same shards rewritten by
        # another tool (no columns, another layout) are read whole, and merge the same.
        assert all(s["columns"]["requests"] == len(s["requests"]) for s in shards)
        plain = out / "plain"
        plain.mkdir()
        for k, s in enumerate(shards):
            del s["columns"]
            (plain / f"shard-{k}.json").write_text(json.dumps(s))
        p = subprocess.run([asb_bin(), "report", "-i", str(plain / "shard-*.json"), "-o", str(plain / "merged.json")],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        again = json.loads((plain / "merged.json").read_text())
        for key in ("summary", "buckets", "load", "prefix_cache", "requests", "sessions"):
            assert again[key] == merged[key], key
        # (The columns' name ids follow the order each process met the names in.)
        assert again["columns"]["requests"] == merged["columns"]["requests"] == 15


def test_merge_refuses_other_runs_and_names_what_is_missing(start_mock, tmp_path):
    mock = start_mock("--zero-delay", "--answer-tokens", "4")
    folder = scenario(tmp_path)

    def shard(k, n, name, *extra):
        out = tmp_path / name
        finish(replay("-e", mock.url, "-m", "m", "-w", str(folder), "--sessions", str(n), "--shard", f"{k}/{n}",
                      "-o", str(out), *extra))
        return str(out)

    a, b = shard(0, 3, "a.json"), shard(1, 3, "b.json")
    p = subprocess.run([asb_bin(), "report", "-i", a, b, "-o", str(tmp_path / "m.json")], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "shard(s) 2 of 3 missing" in p.stderr
    cold = shard(1, 3, "cold.json", "--cache-mode", "allcold")
    p = subprocess.run([asb_bin(), "report", "-i", a, cold], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "`cache_mode` is Realistic in one and Allcold in the other" in p.stderr, p.stderr
    p = subprocess.run([asb_bin(), "report", "-i", a, a], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "two files are shard 0/3" in p.stderr
    whole = tmp_path / "whole.json"
    finish(replay("-e", mock.url, "-m", "m", "-w", str(folder), "-o", str(whole)))
    p = subprocess.run([asb_bin(), "report", "-i", a, str(whole)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "is not a shard" in p.stderr
    # Shards of a run on the embedded mock (a port of its own in each) merge too.
    builtin = [tmp_path / f"builtin-{k}.json" for k in range(2)]
    for k, out in enumerate(builtin):
        finish(replay("-w", str(folder), "--mock-args", "--zero-delay", "--sessions", "2", "--shard", f"{k}/2",
                      "-o", str(out)))
    p = subprocess.run([asb_bin(), "report", "-i", *map(str, builtin), "-o", str(tmp_path / "b.json")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert len(json.loads((tmp_path / "b.json").read_text())["requests"]) == 5
    # Flags that would make shards disagree are refused up front.
    p = subprocess.run([asb_bin(), "replay", "-e", mock.url, "-w", str(folder), "--shard", "0/2", "--policy",
                        "random", "--dry-run"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "give --seed" in p.stderr
    p = subprocess.run([asb_bin(), "replay", "-e", mock.url, "-w", str(folder), "--shard", "0/4", "--sessions", "2",
                        "--dry-run"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "cannot be split over 4 shards" in p.stderr


def kubelet_expand(text, env):
    """Kubernetes' `$(VAR)` expansion in a container's args (unknown names stay as written)."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), text)


def test_the_kubernetes_indexed_job_runs_as_local_shards(start_mock, tmp_path):
    manifests = REPO / "deploy" / "kubernetes"
    check = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", str(manifests / "replay-job.yaml"),
                            str(manifests / "merge-pod.yaml")], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    docs = list(yaml.safe_load_all((manifests / "replay-job.yaml").read_text()))
    settings = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    job = next(d for d in docs if d["kind"] == "Job")
    n = job["spec"]["completions"]
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["parallelism"] == n
    container = job["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert any(f"/{n}" in a for a in container["args"] if a.startswith("--shard")), "N in --shard = completions"

    # The volumes, as local folders: the scenario ConfigMap holds one recording.
    (tmp_path / "scenario").mkdir()
    task_lines(tmp_path / "scenario" / "session.jsonl", "parser")
    (tmp_path / "results").mkdir()
    local = {mounts["scenario"]: str(tmp_path / "scenario"), mounts["results"]: str(tmp_path / "results")}

    def localise(arg):
        for mount, folder in local.items():
            arg = arg.replace(mount, folder)
        return arg

    mock = start_mock("--decode-tps", "2000", "--answer-tokens", "4")
    config = {**settings, "ASB_ENDPOINT": mock.url, "ASB_MODEL": "m", "START_AT": f"{time.time() + 2:.3f}",
              "SESSIONS": str(n), "DURATION": "3s", "WARMUP": "0s", "COOLDOWN": "0s"}
    procs = []
    for k in range(n):
        env = {**config, "JOB_COMPLETION_INDEX": str(k), "HOSTNAME": f"asb-replay-{k}"}
        args = [localise(kubelet_expand(a, env)) for a in container["args"]]
        assert args[0] == "replay"
        procs.append(subprocess.Popen([asb_bin(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env={**os.environ, **env}))
    for p in procs:
        finish(p, timeout=60)
    merge_pod = yaml.safe_load((manifests / "merge-pod.yaml").read_text())
    merge, holder = merge_pod["spec"]["initContainers"][0], merge_pod["spec"]["containers"][0]
    # The asb image has nothing but the binary: the report is fetched from a container that
    # has tar (kubectl cp needs it) and mounts the same volume where the merge wrote it.
    assert merge["image"] == container["image"] and holder["image"].startswith("busybox:")
    out = pathlib.PurePosixPath(merge["args"][merge["args"].index("-o") + 1])
    assert any(out.is_relative_to(m["mountPath"]) and m["name"] == merge["volumeMounts"][0]["name"]
               for m in holder["volumeMounts"])
    merge_args = [localise(a) for a in merge["args"]]
    p = subprocess.run([asb_bin(), *merge_args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    html = (tmp_path / "results" / "merged.html").read_text()
    assert f"Merged from {n} of {n} shards" in html
    merged = json.loads(subprocess.run([asb_bin(), "report", "-i", str(tmp_path / "results" / "shard-*.json"), "-f",
                                        "json"], capture_output=True, text=True, timeout=60).stdout)
    assert merged["merged"]["hosts"] == [f"asb-replay-{k}" for k in range(n)]
    assert merged["summary"]["succeeded"] > 0 and merged["summary"]["failed"] == 0

#!/usr/bin/env bash
# Benchmark of `asb capacity`'s own cost: the time a step takes beyond its window (start-up,
# drain, analysis, writing its JSON), and one whole search's steps and timing.
#
#   bash bench/capacity.sh      # markdown table at the end; raw JSON lines in bench/results/
#
# The target is `asb mock` pinned to CPU 0; asb capacity runs pinned to CPU 1.
# 1. One step of ≥ 100,000 requests: one-call sessions back to back (`--think-time none`)
#    at 32 sessions for a 12 s window (≈ 100,000 requests here) against the zero-delay mock,
#    searched with `--start 32 --max 32` (exactly one step). Overhead = its wall time − 12 s.
#    Goal (issue 19): ≤ 1 s.
# 2. A search: the mock's batch model (800 tok/s shared beyond 8 streams, 100 tok/s each
#    below) with the SLO decode p50 ≥ 45 tok/s (truth: 17 sessions), 5 s steps. Overhead
#    per step = (wall time − Σ the windows of the runs it made) / runs.
# The peer: none computes a session capacity (GuideLLM's sweep is by request rate), so the
# figures stand alone; the bound is the issue's.
source "$(dirname "$0")/common.sh" capacity
PORT=19602
mock_start() {
  taskset -c 0 "$ASB" mock -P $PORT --workers 1 "$@" >/dev/null 2>&1 & MOCK=$!
  wait_port $PORT
}
mock_stop() { kill $MOCK; wait $MOCK 2>/dev/null || true; }
wall() { python3 -c "import time; print(time.monotonic())"; }

python3 -c "import json; print(json.dumps({'seq':1,'messages':[{'role':'user','content':'Say hello.'}],'model':'m','max_tokens':4,'stream':True}))" > "$TMP/one.jsonl"
python3 -c "
import json
for n in range(4):
    print(json.dumps({'seq': n + 1, 'model': 'm', 'max_tokens': 40, 'messages': [{'role': 'user', 'content': f'step {n}'}]}))
" > "$TMP/four.jsonl"

echo "one 100,000-request step…" >&2
mock_start --zero-delay --answer-tokens 4
t0=$(wall)
taskset -c 1 "$ASB" capacity -e "http://127.0.0.1:$PORT" -m m -w "$TMP/one.jsonl" --think-time none --cache-mode allwarm \
  --slo 'ttft:p99<=10s' --start 32 --max 32 --step-duration 12s --step-warmup 1s --max-schedule-lag-ms 100000 \
  -o "$TMP/one-step.json" >"$TMP/out" 2>"$TMP/err" || true
t1=$(wall)
mock_stop
python3 - "$TMP/one-step.json" "$TMP/one-step-steps/step-01.json" "$t0" "$t1" >> "$RESULTS" <<'PY'
import json, sys
result, step = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
wall = float(sys.argv[4]) - float(sys.argv[3])
print(json.dumps({"kind": "step", "requests": len(step["requests"]), "window_s": 12, "wall_s": round(wall, 2),
                  "overhead_s": round(wall - 12, 2), "load_avg": open("/proc/loadavg").read().split()[0]}))
PY

echo "a search on the mock's batch model…" >&2
mock_start --prefill-tps 1000000 --decode-tps 100 --batch-size 8 --answer-tokens 40 --jitter 0 --base-latency-ms 0
t0=$(wall)
taskset -c 1 "$ASB" capacity -e "http://127.0.0.1:$PORT" -m m -w "$TMP/four.jsonl" --think-time none --cache-mode allwarm \
  --slo 'decode_tps:p50>=45' --step-duration 5s --step-warmup 1s --max 64 --max-schedule-lag-ms 50 \
  -o "$TMP/search.json" >"$TMP/out" 2>"$TMP/err" || true
t1=$(wall)
mock_stop
python3 - "$TMP/search.json" "$t0" "$t1" >> "$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
runs = sum(s["runs"] for s in r["steps"])
print(json.dumps({"kind": "search", "capacity": r["capacity"], "first_failure": r["first_failure"],
                  "steps": [[s["load"], s["passed"], s["runs"], s["requests"]] for s in r["steps"]], "runs": runs,
                  "wall_s": round(wall, 2), "overhead_per_run_s": round((wall - 5 * runs) / runs, 2),
                  "load_avg": open("/proc/loadavg").read().split()[0]}))
PY

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| measure | requests | window | wall time | beyond the window | load avg |")
print("|---|---:|---:|---:|---:|---:|")
for r in rows:
    if r["kind"] == "step":
        print(f"| one step, 32 sessions back to back | {r['requests']:,} | {r['window_s']} s | {r['wall_s']} s | "
              f"{r['overhead_s']} s | {r['load_avg']} |")
    else:
        steps = ", ".join(f"{l:g}{'✓' if ok else '✗'}{'×2' if n > 1 else ''}" for l, ok, n, _ in r["steps"])
        print(f"| search (capacity {r['capacity']}, first failure {r['first_failure']}; steps {steps}) | "
              f"{sum(s[3] for s in r['steps']):,} | {r['runs']} × 5 s | {r['wall_s']} s | "
              f"{r['overhead_per_run_s']} s per run | {r['load_avg']} |")
PY
echo "raw: $RESULTS" >&2

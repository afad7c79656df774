#!/usr/bin/env bash
# Benchmark of `asb replay`'s client: how many SSE events it times per second on one core,
# and how far its TTFT is from the truth — side by side with a peer in the same run, the
# OpenAI Python SDK's async client (bench/replay/peer_openai.py).
#
#   bash bench/replay.sh      # a markdown table at the end; raw JSON lines in bench/results/
#
# The server is `asb mock` pinned to CPU 0 with one runtime thread; each client runs pinned
# to CPU 1 (so it has exactly one core). Every request is joined with the mock's truth log
# on x-request-id (bench/replay/analyze.py).
# 1. Throughput: zero-delay mock, 64 requests × 4,000 tokens (one event per token after the
#    mock's coalescing: it sends what is due per frame), 16 concurrent streams.
# 2. TTFT error against the zero-delay mock (its truth TTFT is a few µs): 32-token answers,
#    1 worker × 2,000 requests and 16 workers × 4,000 — back to back, as a load test runs.
#    With 16 workers the one-core mock saturates: requests wait in its socket queue before
#    it reads them. The truth starts when the kernel received the request (the mock's
#    SO_TIMESTAMPNS), so that wait is the server's; each row also gives the error against
#    the old truth (from the mock's read of the headers, the queue in the error), the
#    queue itself (`read_ms`), and the mock's CPU %, and
# 3. the accuracy rows with the mock kept unsaturated: 16 workers against a paced decode of
#    1,000 tok/s (32 ms per answer, the mock's CPU well under 100 %), and the mock paced like
#    a small GPU server (20 ms base latency, 4,000 tok/s prefill, 100 tok/s decode, ±5 %
#    jitter), 1 and 16 workers: between requests both sides sleep, so each first token also
#    pays the machine's wake-up from idle.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$HOME/.cache/asb-bench-venv"
PY="$VENV/bin/python"
if ! "$PY" -c 'import openai' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$PY" -m pip install -q openai==3.54.0
fi
cargo build --release --quiet --bin asb
ASB=target/release/asb
mkdir -p bench/results
RESULTS="bench/results/replay-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
TMP=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
PORT=19591
# Time on CPU of all PID's threads, in ns (exact, from the scheduler).
cpu_ns() { cat /proc/$1/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

mock_start() { # mock flags...
  rm -f "$TMP/truth.jsonl"
  taskset -c 0 "$ASB" mock -P $PORT --workers 1 --truth-log "$TMP/truth.jsonl" "$@" >/dev/null 2>&1 & MOCK=$!
  wait_port $PORT
}
mock_stop() { kill $MOCK; wait $MOCK 2>/dev/null || true; }

# Runs a command pinned to CPU 1; leaves "wall user sys" seconds in $TMP/time.
timed() { { TIMEFORMAT='%R %U %S'; time taskset -c 1 "$@" >"$TMP/out" 2>"$TMP/err"; } 2>"$TMP/time"; }
cpu_s() { awk '{print $2 + $3}' "$TMP/time"; }
# The mock's CPU % since M0 (its cpu_ns then) over WALL seconds of the client's run.
mock_pct() { python3 -c "print(round(($(cpu_ns $MOCK) - $1) / 1e7 / $2, 1))"; }

run_pair() { # label n concurrency max_tokens
  local label=$1 n=$2 c=$3 tokens=$4
  python3 -c "import json; print(json.dumps({'seq':1,'messages':[{'role':'user','content':'Write a long essay.'}],'model':'m','max_tokens':$tokens,'stream':True}))" > "$TMP/rec.jsonl"
  sleep 0.2
  local m0; m0=$(cpu_ns $MOCK)
  timed "$ASB" replay -e "http://127.0.0.1:$PORT" -m m -w "$TMP/rec.jsonl" -r "$n" --max-concurrent "$c" --cache-mode allwarm -o "$TMP/run.json"
  local wall; wall=$(python3 -c "import json; print(json.load(open('$TMP/run.json'))['summary']['duration_s'])")
  python3 bench/replay/analyze.py "$TMP/run.json" "$TMP/truth.jsonl" asb "$wall" "$(cpu_s)" "asb replay | $label" "$(mock_pct $m0 "$wall")" >> "$RESULTS"
  mock_restart
  m0=$(cpu_ns $MOCK)
  timed "$PY" bench/replay/peer_openai.py "http://127.0.0.1:$PORT" "$n" "$c" "$tokens"
  wall=$(tail -1 "$TMP/out" | python3 -c "import json,sys; print(json.load(sys.stdin)['summary']['wall_s'])")
  python3 bench/replay/analyze.py "$TMP/out" "$TMP/truth.jsonl" peer "$wall" "$(cpu_s)" "openai SDK async | $label" "$(mock_pct $m0 "$wall")" >> "$RESULTS"
}

echo "throughput…" >&2
mock_restart() { mock_stop; mock_start --zero-delay; }
mock_start --zero-delay
run_pair "zero-delay, 16 streams × 4000 tokens" 64 16 4000
mock_stop

echo "TTFT error, zero delay…" >&2
mock_restart() { mock_stop; mock_start --zero-delay; }
mock_start --zero-delay
run_pair "zero-delay, 1 worker × 32 tokens" 2000 1 32
mock_restart
run_pair "zero-delay, 16 workers × 32 tokens" 4000 16 32
mock_stop

echo "TTFT error, mock unsaturated (decode 1000 tok/s)…" >&2
mock_restart() { mock_stop; mock_start --base-latency-ms 0 --prefill-tps inf --decode-tps 1000 --jitter 0; }
mock_start --base-latency-ms 0 --prefill-tps inf --decode-tps 1000 --jitter 0
run_pair "decode 1000 tok/s, 16 workers × 32 tokens" 1600 16 32
mock_stop

echo "TTFT error, paced…" >&2
mock_restart() { mock_stop; mock_start --decode-tps 100; }
mock_start --decode-tps 100
run_pair "paced, 1 worker" 50 1 32
mock_restart
run_pair "paced, 16 workers" 320 16 32
mock_stop

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| client | load | events/s | events per CPU-s | mock CPU % | TTFT error p50 / p90 / p99 / max (ms) "
      "| from the mock's read p50 / p99 (ms) | mock queue p50 / p99 (ms) |")
print("|---|---|---:|---:|---:|---|---|---|")
f3 = lambda d, *ks: " / ".join(f"{d[k]:.3f}" for k in ks) if d else "–"
for r in rows:
    client, load = r["label"].split(" | ")
    print(f"| {client} | {load} | {r['events_per_s']:,} | {r['events_per_cpu_s']:,} | {r.get('mock_cpu_pct')} | "
          f"{f3(r['ttft_error_ms'], 'p50', 'p90', 'p99', 'max')} | {f3(r.get('ttft_error_from_read_ms'), 'p50', 'p99')} | "
          f"{f3(r.get('mock_queue_ms'), 'p50', 'p99')} |")
PY
echo "raw: $RESULTS" >&2

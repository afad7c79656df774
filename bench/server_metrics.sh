#!/usr/bin/env bash
# Benchmark of `asb replay --server-metrics`: does scraping the server's /metrics every
# 250 ms move the client's TTFT error or its events/s? An A/B in one run: the same loads,
# scrape off (--no-server-metrics) and on (--server-metrics-interval 250ms), alternated
# (off, on, off, on) so drift in the machine lands on both sides. Also: how many bytes per
# scrape the run JSON keeps (the figure behind "bytes per hour" in docs/replay.md).
#
#   bash bench/server_metrics.sh      # a markdown table at the end; raw JSON lines in bench/results/
#
# The server is `asb mock` pinned to CPU 0 with one runtime thread (its /metrics is served
# there too), the client pinned to CPU 1. Every request is joined with the mock's truth log
# on x-request-id (bench/replay/analyze.py), as bench/replay.sh does.
# Loads: 1. zero-delay, 16 streams × 4,000 tokens (events/s); 2. the mock unsaturated, a
# 1,000 tok/s decode, 16 workers × 32 tokens (TTFT error); 3. paced like a small GPU
# server, 1 worker (TTFT error with idle gaps).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin asb
ASB=target/release/asb
mkdir -p bench/results
RESULTS="bench/results/server-metrics-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
TMP=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
PORT=19593
cpu_ns() { cat /proc/$1/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
mock_start() {
  rm -f "$TMP/truth.jsonl"
  taskset -c 0 "$ASB" mock -P $PORT --workers 1 --truth-log "$TMP/truth.jsonl" "${MOCK_FLAGS[@]}" >/dev/null 2>&1 & MOCK=$!
  wait_port $PORT
}
mock_stop() { kill $MOCK; wait $MOCK 2>/dev/null || true; }
timed() { { TIMEFORMAT='%R %U %S'; time taskset -c 1 "$@" >"$TMP/out" 2>"$TMP/err"; } 2>"$TMP/time"; }
cpu_s() { awk '{print $2 + $3}' "$TMP/time"; }

one() { # label scrape(on|off) n concurrency max_tokens
  local label=$1 mode=$2 n=$3 c=$4 tokens=$5 flags=(--no-server-metrics)
  [ "$mode" = on ] && flags=(--server-metrics-interval 250ms)
  python3 -c "import json; print(json.dumps({'seq':1,'messages':[{'role':'user','content':'Write a long essay.'}],'model':'m','max_tokens':$tokens,'stream':True}))" > "$TMP/rec.jsonl"
  mock_start
  sleep 0.2
  local m0; m0=$(cpu_ns $MOCK)
  timed "$ASB" replay -e "http://127.0.0.1:$PORT" -m m -w "$TMP/rec.jsonl" -r "$n" --max-concurrent "$c" \
    --cache-mode allwarm "${flags[@]}" -o "$TMP/run.json"
  local wall; wall=$(python3 -c "import json; print(json.load(open('$TMP/run.json'))['summary']['duration_s'])")
  local mock_pct; mock_pct=$(python3 -c "print(round(($(cpu_ns $MOCK) - $m0) / 1e7 / $wall, 1))")
  python3 bench/replay/analyze.py "$TMP/run.json" "$TMP/truth.jsonl" asb "$wall" "$(cpu_s)" "$label | $mode" "$mock_pct" \
    | python3 -c "
import json, sys
row = json.loads(sys.stdin.read())
run = json.load(open('$TMP/run.json'))
sm = run.get('server_metrics')
if sm:
    rows = len(sm['series']['t_ms'])
    table = json.dumps(sm['series'], separators=(',', ':'))
    row.update(scrapes=sm['scrapes'], failed_scrapes=sm['failed_scrapes'], series=len(sm['series']['raw']) + len(sm['series']['concepts']),
               json_bytes_per_scrape=round(len(table) / rows, 1))
print(json.dumps(row))" >> "$RESULTS"
  mock_stop
}

# label n concurrency max_tokens: scrape off, on, off, on.
ab_args() { local label=$1; shift; for mode in off on off on; do one "$label" "$mode" "$@"; done; }

echo "events/s, zero delay…" >&2
MOCK_FLAGS=(--zero-delay)
ab_args "zero-delay, 16 streams × 4000 tokens" 512 16 4000
echo "TTFT error, mock unsaturated…" >&2
MOCK_FLAGS=(--base-latency-ms 0 --prefill-tps inf --decode-tps 1000 --jitter 0)
ab_args "decode 1000 tok/s, 16 workers × 32 tokens" 1600 16 32
echo "TTFT error, paced…" >&2
MOCK_FLAGS=(--decode-tps 100)
ab_args "paced, 1 worker × 32 tokens" 30 1 32

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| load | scrape | events/s | events per CPU-s | mock CPU % | TTFT error p50 / p99 (ms) | scrapes (failed) | JSON bytes per scrape |")
print("|---|---|---:|---:|---:|---|---|---:|")
for r in rows:
    load, mode = r["label"].split(" | ")
    e = r["ttft_error_ms"]
    scrapes = f"{r['scrapes']} ({r['failed_scrapes']})" if "scrapes" in r else "-"
    print(f"| {load} | {mode} | {r['events_per_s']:,} | {r['events_per_cpu_s']:,} | {r.get('mock_cpu_pct')} | "
          f"{e['p50']:.3f} / {e['p99']:.3f} | {scrapes} | {r.get('json_bytes_per_scrape', '-')} |")
PY
echo "raw: $RESULTS" >&2

#!/usr/bin/env bash
# Benchmark of `asb replay`'s pacing: how close to their intended time open-loop requests
# are sent, and how many concurrent agent sessions with think time one asb process drives.
#
#   bash bench/pacing.sh      # markdown tables at the end; raw JSON lines in bench/results/
#
# The target is `asb mock --zero-delay --workers 1 --answer-tokens 4` pinned to CPU 0, its
# truth log on; every client runs pinned to CPU 1 (one core).
# 1. Open-loop sends at 100, 1,000 and 5,000 requests/s, constant arrivals, 4 s each (the
#    first 0.5 s left out as warm-up), streamed chat completions. Two measures:
#    - asb's own schedule lag (first send − intended send) p50/p99/max from its run JSON;
#    - the arrival-time error at the server, from the mock's truth log: arrival k against
#      the grid t0 + k/R (bench/pacing/arrivals.py). This one judges every client alike.
#    Peer, same run, same mock, same truth-log measure: AIPerf (PyPI `aiperf`, in its own
#    venv) with `--request-rate R --arrival-pattern constant`, streaming, against the mock's
#    /v1/chat/completions. Everything is run twice: at normal priority, and with the mock
#    and both clients at `nice -n -20`, which shows what the other processes sharing this
#    VM's two cores (other builds) cost each client in wake-up delays.
# 2. Capacity: sessions of 10 calls ≈ 1 s apart (`--think-time recorded` on a recording
#    made by bench/pacing/gaps.py) arriving open loop (`--session-rate`) so that about N are
#    in flight (N = 1,000, 5,000, 10,000); schedule lag in the steady state (the window
#    after the first sessions' length, `--warmup`/`--cooldown`), peak sessions in flight,
#    the client's CPU % over that window (all its threads, /proc schedstat), and its TTFT
#    error against the mock's truth log (counted from the kernel's receipt of the request).
#    The goal: TTFT error ≤ 1 ms p99; lag p99 ≤ 1 ms beside it.
source "$(dirname "$0")/common.sh" pacing
PORT=19601
# Each session holds a connection: raise the descriptor limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open files: $(ulimit -n)" >&2

AP_VENV="$HOME/.cache/asb-aiperf-venv"
AIPERF="$AP_VENV/bin/aiperf"
if ! "$AIPERF" --version >/dev/null 2>&1; then
  python3 -m venv "$AP_VENV"
  "$AP_VENV/bin/pip" install -q aiperf==0.13.0
fi
"$AP_VENV/bin/python" bench/pacing/tokenizer.py "$TMP/tok" 2>/dev/null

mock_start() {
  rm -f "$TMP/truth.jsonl"
  taskset -c 0 nice -n "$NICE" "$ASB" mock -P $PORT --zero-delay --workers 1 --answer-tokens 4 --truth-log "$TMP/truth.jsonl" >/dev/null 2>&1 & MOCK=$!
  wait_port $PORT
}
mock_stop() { kill $MOCK; wait $MOCK 2>/dev/null || true; }
# Runs a command pinned to CPU 1; leaves "wall user sys" seconds (children included) in $TMP/time.
timed() { { TIMEFORMAT='%R %U %S'; time taskset -c 1 nice -n "$NICE" "$@" >"$TMP/out" 2>"$TMP/err"; } 2>"$TMP/time"; }
cpu_s() { awk '{print $2 + $3}' "$TMP/time"; }
wall_s() { awk '{print $1}' "$TMP/time"; }

python3 -c "import json; print(json.dumps({'seq':1,'messages':[{'role':'user','content':'Say hello.'}],'model':'m','max_tokens':4,'stream':True}))" > "$TMP/one.jsonl"
SECS=4
for NICE in 0 -20; do
for rate in 100 1000 5000; do
  n=$(( rate * SECS )); skip=$(( rate / 2 ))
  echo "pacing at $rate/s…" >&2
  mock_start
  timed "$ASB" replay -e "http://127.0.0.1:$PORT" -m m -w "$TMP/one.jsonl" --cache-mode allwarm \
    --request-rate $rate --arrival constant --duration ${SECS}s --warmup 0.5s --max-schedule-lag-ms 1000 -o "$TMP/run.json" || true
  sleep 0.5; mock_stop
  python3 - "$TMP/run.json" "$(python3 bench/pacing/arrivals.py "$TMP/truth.jsonl" $rate $skip)" $rate "$(cpu_s)" "$(wall_s)" "$NICE" >> "$RESULTS" <<'PY'
import json, sys
run, truth, rate, cpu, wall = json.load(open(sys.argv[1])), json.loads(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
lag = run["load"]["schedule_lag_ms"]
print(json.dumps({"kind": "pacing", "client": "asb replay", "rate": rate, "sent": len(run["requests"]),
                  "nice": int(sys.argv[6]), "load_avg": open("/proc/loadavg").read().split()[0],
                  "lag_ms": {k: round(lag[k], 4) for k in ("p50", "p99", "max")}, "arrival": truth,
                  "client_cpu_s": cpu, "wall_s": wall}))
PY
  mock_start
  timed "$AIPERF" profile -m m --url "http://127.0.0.1:$PORT" --endpoint-type chat --streaming \
    --request-rate $rate --arrival-pattern constant --request-count $n --tokenizer "$TMP/tok" \
    --use-server-token-count --ui none --prompt-input-tokens-mean 16 --prompt-output-tokens-mean 4 \
    --output-artifact-dir "$TMP/aiperf-$rate" || echo "aiperf failed at $rate/s (see its log)" >&2
  sleep 0.5; mock_stop
  arrivals=$(python3 bench/pacing/arrivals.py "$TMP/truth.jsonl" $rate $skip)
  echo "{\"kind\":\"pacing\",\"client\":\"AIPerf 0.13.0\",\"rate\":$rate,\"nice\":$NICE,\"load_avg\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"sent\":$(wc -l < "$TMP/truth.jsonl"),\"lag_ms\":null,\"arrival\":$arrivals,\"client_cpu_s\":$(cpu_s),\"wall_s\":$(wall_s)}" >> "$RESULTS"
done
done
NICE=0

echo "capacity…" >&2
python3 bench/pacing/gaps.py "$TMP/gaps.jsonl" 10
# A session: 10 calls, 9 gaps of 0.995 s ≈ 9 s. Arrivals at N/9 per second for 18 s keep
# about N in flight from 9 s on; the window is 9–18 s of intended send times.
for n in 1000 5000 10000; do
  echo "  $n sessions…" >&2
  mock_start
  srate=$(python3 -c "print(round($n / 9, 2))"); total=$(( n * 2 ))
  taskset -c 1 nice -n "$NICE" "$ASB" replay -e "http://127.0.0.1:$PORT" -m m -w "$TMP/gaps.jsonl" --cache-mode allwarm \
    --session-rate "$srate" --arrival constant --max-sessions $(( n * 2 )) -r $total --think-time recorded \
    --warmup 9s --cooldown 9s --max-schedule-lag-ms 1000 -o "$TMP/cap.json" >"$TMP/out" 2>"$TMP/err" & REPLAY=$!
  # The client's CPU over the steady state (9–18 s), from the scheduler's per-thread times.
  sleep 9; c0=$(cpu_ns $REPLAY); sleep 9; c1=$(cpu_ns $REPLAY)
  wait $REPLAY || true
  sleep 0.5; mock_stop
  echo "{\"kind\":\"capacity\",\"session_rate\":$srate,\"load_avg\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"result\":$(python3 bench/pacing/capacity.py "$TMP/cap.json" "$(( (c1 - c0) ))e-9" 9 $n "$TMP/truth.jsonl")}" >> "$RESULTS"
done

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| rate (req/s) | nice | client | sent | achieved rate at the server | arrival error vs 1/R grid p50 / p99 / max (ms) | asb schedule lag p50 / p99 / max (ms) | client CPU % | load avg |")
print("|---:|---:|---|---:|---:|---|---|---:|---:|")
for r in (r for r in rows if r["kind"] == "pacing"):
    a, e, l = r["arrival"], r["arrival"]["error_ms"], r["lag_ms"]
    lag = f"{l['p50']:.3f} / {l['p99']:.3f} / {l['max']:.3f}" if l else "–"
    print(f"| {r['rate']:,} | {r['nice']} | {r['client']} | {r['sent']:,} | {a['achieved_rate']:,} | "
          f"{e['p50']:.3f} / {e['p99']:.3f} / {e['max']:.3f} | {lag} | {100 * r['client_cpu_s'] / r['wall_s']:.0f} | {r['load_avg']} |")
print()
print("| sessions (target) | peak in flight | requests (in window) | failed | schedule lag p50 / p99 / max (ms) | TTFT error p50 / p99 / max (ms) | asb CPU % | load avg |")
print("|---:|---:|---:|---:|---|---|---:|---:|")
for row in (r for r in rows if r["kind"] == "capacity"):
    r, l, e = row["result"], row["result"]["lag_ms"], row["result"].get("ttft_error_ms")
    err = f"{e['p50']:.3f} / {e['p99']:.3f} / {e['max']:.3f}" if e and e.get("p50") is not None else "–"
    print(f"| {r['target_sessions']:,} | {r['peak_sessions']:,} | {r['requests']:,} ({r['requests_in_window']:,}) | {r['failed']} | "
          f"{l['p50']:.3f} / {l['p99']:.3f} / {l['max']:.3f} | {err} | {r['client_cpu_pct']} | {row.get('load_avg', '–')} |")
PY
echo "raw: $RESULTS" >&2

#!/usr/bin/env bash
# Benchmark of `asb serve` (offline answers from a recording) side by side with AgentTape
# 0.1.8 (Python, in-process record/replay) on the same calls, in one run.
#
#   bash bench/serve.sh        # markdown tables at the end; raw JSON lines in bench/results/
#
# 1. The recordings are made by the tools themselves: the OpenAI SDK, patched by AgentTape
#    in mode="record", calls `asb record` in front of `asb mock --zero-delay`, so every call
#    lands both in our JSONL and in AgentTape's YAML cassette (bench/serve/gen_session.py):
#    5,000 small calls, and Claude-Code-like agent sessions (16 KB system prompt, 16 tools,
#    conversations growing to ~200 KB) of 50 MB and 100 MB. bench/serve/expand.py derives
#    140,000 distinct small calls (throughput) and a directory of 1,000 recordings from them.
# 2. Per-call latency, small non-streamed chat calls: asb serve over loopback timed by a
#    tight Rust client on one persistent connection (bench/serve_load.rs, write → last byte
#    read), asb serve through the openai Python SDK, and AgentTape replaying in-process
#    through the same SDK patched in mode="none" (bench/serve/agenttape_bench.py). 2 rounds.
# 3. Throughput: distinct small calls on 1/4/16/64 connections, client and server sharing
#    the 2 cores (the client is one thread).
# 4. Load: process start → first answer for the 50 and 100 MB recordings (a single file
#    loads at start; a directory loads it on the first call to /c/NAME), then every other
#    call once, and the server's VmHWM. AgentTape: open the cassette + first replayed call
#    in a fresh process, VmHWM of that process.
# 5. 1,000 recordings (5 calls each) served in turn from a directory with --idle-release 0
#    and 1: the server's RSS after every 100.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$HOME/.cache/asb-bench-venv"
PY="$VENV/bin/python"
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
if ! "$PY" -c 'import agenttape, openai; assert agenttape.__version__ == "0.1.8"' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$PY" -m pip install -q agenttape==0.1.8 openai
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin asb --example serve-load
ASB="$CARGO_TARGET_DIR/release/asb"
LOAD="$CARGO_TARGET_DIR/release/examples/serve-load"
OUT=bench/results; mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS="$OUT/serve-$STAMP.jsonl"
TMP=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
MOCK_PORT=19581; REC_PORT=19582; SERVE_PORT=19583; NGINX_PORT=19584
SMALL=5000; SMALL_WARMUP=1000; SDK_CALLS=2500; SDK_WARMUP=500
MANY=140000

wait_port() { for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
emit() { echo "$1" >> "$RESULTS"; }
# Waits until the server on PORT answers an HTTP request (asb serve listens before its
# recording is loaded, and answers once it is).
wait_http() {
  for _ in $(seq 1200); do
    if (exec 3<>/dev/tcp/127.0.0.1/$1 && printf 'GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n' >&3 \
        && head -c 8 <&3 | grep -q HTTP/) 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "port $1 never answered" >&2; exit 1
}
serve_start() { "$ASB" serve -P $SERVE_PORT "$@" >/dev/null 2>"$TMP/serve.err" & SERVE=$!; wait_http $SERVE_PORT; }
serve_stop() { kill -INT $SERVE; wait $SERVE 2>/dev/null || true; }

emit "{\"bench\":\"machine\",\"when\":\"start\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"commit\":\"$(git rev-parse --short HEAD)\"}"

# ---- 1. recordings, written by asb record and AgentTape from the same SDK calls ------------
echo "generating recordings…" >&2
"$ASB" mock --zero-delay --tool-call-rate 0.85 --seed 0 -P $MOCK_PORT >/dev/null & MOCK=$!
wait_port $MOCK_PORT
gen() { # name gen_session-args...
  local name=$1; shift
  "$ASB" record -e "http://127.0.0.1:$MOCK_PORT" -m m -o "$TMP/$name.jsonl" -P $REC_PORT >/dev/null 2>&1 & local rec=$!
  wait_port $REC_PORT
  "$PY" bench/serve/gen_session.py "$@" --base-url "http://127.0.0.1:$REC_PORT/v1" --cassette "$TMP/$name.yaml"
  kill -INT $rec; wait $rec 2>/dev/null || true
}
gen small small --calls $SMALL
gen s50 session --recording "$TMP/s50.jsonl" --target-mb 50
gen s100 session --recording "$TMP/s100.jsonl" --target-mb 100
kill $MOCK; wait $MOCK 2>/dev/null || true
python3 bench/serve/expand.py many --template "$TMP/small.jsonl" --out "$TMP/many.jsonl" --calls $MANY
python3 bench/serve/expand.py dir --source "$TMP/s50.jsonl" --lines 5 --out "$TMP/dir1000" --n 1000
mkdir -p "$TMP/d50" "$TMP/d100"; ln "$TMP/s50.jsonl" "$TMP/d50/"; ln "$TMP/s100.jsonl" "$TMP/d100/"
for f in small s50 s100 many; do
  lines=$(wc -l < "$TMP/$f.jsonl"); bytes=$(stat -c %s "$TMP/$f.jsonl")
  ybytes=$( [ -f "$TMP/$f.yaml" ] && stat -c %s "$TMP/$f.yaml" || echo null)
  abytes=$( [ -d "$TMP/$f.assets" ] && du -sb "$TMP/$f.assets" | cut -f1 || echo 0)
  emit "{\"bench\":\"recording\",\"name\":\"$f\",\"calls\":$lines,\"jsonl_bytes\":$bytes,\"yaml_bytes\":$ybytes,\"assets_bytes\":$abytes}"
done

# ---- 2. per-call latency, small calls ---------------------------------------------------------
echo "latency…" >&2
# The loopback HTTP floor with this client: nginx answering every POST with call 1's answer.
python3 - "$TMP/small.jsonl" "$TMP" $NGINX_PORT > "$TMP/nginx.conf" <<'PYCONF'
import json, sys
body = json.dumps(json.loads(open(sys.argv[1]).readline())["response"]["body"], separators=(",", ":"))
body = body.replace("\\", "\\\\").replace("'", "\\'")
print(f"""worker_processes 1; daemon off; pid {sys.argv[2]}/nginx.pid; error_log {sys.argv[2]}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; keepalive_requests 1000000; client_body_buffer_size 64k;
  server {{ listen 127.0.0.1:{sys.argv[3]}; location / {{ default_type application/json; return 200 '{body}'; }} }} }}""")
PYCONF
nginx -c "$TMP/nginx.conf" & NGINX=$!
wait_port $NGINX_PORT
"$ASB" mock --zero-delay -P $MOCK_PORT >/dev/null & MOCK=$!
wait_port $MOCK_PORT
for round in 1 2; do
  serve_start -w "$TMP/small.jsonl"
  j=$("$LOAD" latency --addr 127.0.0.1:$SERVE_PORT --recording "$TMP/small.jsonl" --warmup $SMALL_WARMUP)
  serve_stop; emit "{\"bench\":\"latency\",\"tool\":\"asb-rust-client\",\"round\":$round,\"r\":$j}"
  j=$("$LOAD" latency --addr 127.0.0.1:$NGINX_PORT --recording "$TMP/small.jsonl" --warmup $SMALL_WARMUP)
  emit "{\"bench\":\"latency\",\"tool\":\"nginx-floor\",\"round\":$round,\"r\":$j}"
  serve_start -w "$TMP/small.jsonl"
  j=$("$PY" bench/serve/agenttape_bench.py sdk-latency --base-url "http://127.0.0.1:$SERVE_PORT/v1" \
        --recording "$TMP/small.jsonl" --count $SDK_CALLS --warmup $SDK_WARMUP)
  serve_stop; emit "{\"bench\":\"latency\",\"tool\":\"asb-openai-sdk\",\"round\":$round,\"r\":$j}"
  j=$("$PY" bench/serve/agenttape_bench.py sdk-latency --base-url "http://127.0.0.1:$MOCK_PORT/v1" \
        --recording "$TMP/small.jsonl" --count $SDK_CALLS --warmup $SDK_WARMUP)
  emit "{\"bench\":\"latency\",\"tool\":\"mock-openai-sdk\",\"round\":$round,\"r\":$j}"
  j=$("$PY" bench/serve/agenttape_bench.py latency --cassette "$TMP/small.yaml" --recording "$TMP/small.jsonl" --warmup $SMALL_WARMUP)
  emit "{\"bench\":\"latency\",\"tool\":\"agenttape\",\"round\":$round,\"r\":$j}"
done
kill $NGINX $MOCK; wait $NGINX $MOCK 2>/dev/null || true

# ---- 3. throughput ----------------------------------------------------------------------------
echo "throughput (loading $MANY calls first)…" >&2
t0=$(date +%s.%N)
serve_start -w "$TMP/many.jsonl"
t1=$(date +%s.%N)
emit "{\"bench\":\"many-load\",\"seconds\":$(python3 -c "print($t1 - $t0)"),\"vm_hwm_kb\":$(awk '/VmHWM/{print $2}' /proc/$SERVE/status)}"
skip=0
for cc in "1 20000" "4 40000" "16 40000" "64 40000"; do
  set -- $cc
  j=$("$LOAD" throughput --addr 127.0.0.1:$SERVE_PORT --recording "$TMP/many.jsonl" --skip $skip --count $2 -c $1 --pid $SERVE)
  emit "{\"bench\":\"throughput\",\"tool\":\"asb\",\"r\":$j}"
  skip=$((skip + $2))
done
serve_stop

# ---- 4. load time and peak memory -------------------------------------------------------------
echo "load…" >&2
for mb in 50 100; do
  for round in 1 2 3; do
    j=$("$LOAD" first-answer --port $SERVE_PORT --recording "$TMP/s$mb.jsonl" -- "$ASB" serve -w "$TMP/s$mb.jsonl" -P $SERVE_PORT)
    emit "{\"bench\":\"load\",\"tool\":\"asb-file\",\"mb\":$mb,\"round\":$round,\"r\":$j}"
    j=$("$LOAD" first-answer --port $SERVE_PORT --prefix /c/s$mb --recording "$TMP/s$mb.jsonl" -- "$ASB" serve -w "$TMP/d$mb" -P $SERVE_PORT)
    emit "{\"bench\":\"load\",\"tool\":\"asb-dir\",\"mb\":$mb,\"round\":$round,\"r\":$j}"
  done
  j=$("$PY" bench/serve/agenttape_bench.py load --cassette "$TMP/s$mb.yaml" --recording "$TMP/s$mb.jsonl")
  emit "{\"bench\":\"load\",\"tool\":\"agenttape\",\"mb\":$mb,\"r\":$j}"
done

# ---- 5. 1,000 recordings in turn from a directory ---------------------------------------------
echo "1,000 recordings…" >&2
for idle in 0 1; do
  serve_start -w "$TMP/dir1000" --idle-release $idle
  j=$("$LOAD" dir-walk --addr 127.0.0.1:$SERVE_PORT --dir "$TMP/dir1000" --pid $SERVE)
  serve_stop; emit "{\"bench\":\"dir\",\"tool\":\"asb\",\"idle_release\":$idle,\"r\":$j}"
done

emit "{\"bench\":\"machine\",\"when\":\"end\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
python3 bench/serve/report.py "$RESULTS"

#!/usr/bin/env bash
# What `asb record` adds to a stream: the same requests sent straight to a fast upstream,
# through the recording proxy, and through a peer proxy that records nothing (nginx with
# `proxy_buffering off`, the usual way to put a C proxy in front of an SSE server), in one
# run, at 1 and 64 concurrent streams.
#
#   bash bench/record.sh        # markdown table; raw JSON lines in bench/results/
#
# Upstream: `asb mock` decoding at 1000 tok/s per stream with no jitter and no prefill, so
# every event is due at a known time and each travels alone (not coalesced). Measured by
# bench/sse_load.rs from the client side: TTFT (send → first content event) and the mean
# arrival offset of every event; "added" = through the proxy minus direct. The proxy's CPU
# time per forwarded event comes from /proc. The machine's 2 cores are shared by load
# generator, proxy and mock, as they would be on a laptop.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin asb --example sse-load
ASB=target/release/asb
LOAD=target/release/examples/sse-load
OUT=bench/results; mkdir -p "$OUT"
RESULTS="$OUT/record-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
TMP=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
MOCK_PORT=19571; PROXY_PORT=19572; NGINX_PORT=19573
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
BODY='{"model":"m","messages":[{"role":"user","content":"hello"}],"max_tokens":128,"stream":true,"stream_options":{"include_usage":true}}'
MARKER='"delta":{"content":'

wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }

"$ASB" mock -P $MOCK_PORT --base-latency-ms 0 --prefill-tps inf --decode-tps 1000 --jitter 0 --batch-size 100000 >/dev/null & MOCK=$!
"$ASB" record -e "http://127.0.0.1:$MOCK_PORT" -m m -o "$TMP/rec.jsonl" -P $PROXY_PORT >/dev/null 2>"$TMP/record.err" & PROXY=$!
cat > "$TMP/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $TMP/nginx.pid; error_log $TMP/nginx-error.log;
events { worker_connections 4096; }
http { access_log off;
  upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 128; }
  server { listen 127.0.0.1:$NGINX_PORT;
    location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_buffering off; proxy_request_buffering off; tcp_nodelay on; } } }
CONF
nginx -c "$TMP/nginx.conf" & NGINX=$!
wait_port $MOCK_PORT; wait_port $PROXY_PORT; wait_port $NGINX_PORT

for round in 1 2; do
  for c in 1 64; do
    r=$(( c == 1 ? 200 : 8 ))
    for path in direct asb-record nginx; do
      case $path in direct) port=$MOCK_PORT pid=$PROXY;; asb-record) port=$PROXY_PORT pid=$PROXY;; nginx) port=$NGINX_PORT pid=$(pgrep -P "$(cat "$TMP/nginx.pid")" | head -1);; esac
      t0=$(cpu_ticks $pid)
      json=$("$LOAD" --url "http://127.0.0.1:$port/v1/chat/completions" --body "$BODY" -c $c -r $r --ttft-marker "$MARKER")
      t1=$(cpu_ticks $pid)
      echo "{\"round\":$round,\"path\":\"$path\",\"proxy_cpu_ticks\":$((t1 - t0)),\"load\":$json}" >> "$RESULTS"
    done
  done
done
kill -INT $PROXY; wait $PROXY 2>/dev/null || true
LINES=$(wc -l < "$TMP/rec.jsonl")

python3 - "$RESULTS" "$LINES" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"results: {sys.argv[1]}  (recorded lines: {sys.argv[2]})\n")
print("| streams | path | TTFT p50 (ms) | TTFT p99 (ms) | added TTFT p50 / p99 (ms) | added per event, mean (ms) | proxy CPU per event (µs) |")
print("|---:|---|---:|---:|---|---:|---:|")
avg = lambda rs, f: sum(f(r) for r in rs) / len(rs)
for c in (1, 64):
    sel = lambda path: [r for r in rows if r["load"]["concurrency"] == c and r["path"] == path]
    d = sel("direct")
    d50, d99 = avg(d, lambda r: r["load"]["ttft_ms"]["p50"]), avg(d, lambda r: r["load"]["ttft_ms"]["p99"])
    doff = avg(d, lambda r: r["load"]["event_offset_ms_mean"])
    print(f"| {c} | direct | {d50:.3f} | {d99:.3f} | | | |")
    for path in ("asb-record", "nginx"):
        p = sel(path)
        p50, p99 = avg(p, lambda r: r["load"]["ttft_ms"]["p50"]), avg(p, lambda r: r["load"]["ttft_ms"]["p99"])
        off = avg(p, lambda r: r["load"]["event_offset_ms_mean"]) - doff
        events = sum(r["load"]["events"] for r in p)
        cpu_us = sum(r["proxy_cpu_ticks"] for r in p) * 10_000 / max(events, 1)
        print(f"| {c} | {path} | {p50:.3f} | {p99:.3f} | {p50 - d50:+.3f} / {p99 - d99:+.3f} | {off:+.3f} | {cpu_us:.1f} |")
PY

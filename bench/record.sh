#!/usr/bin/env bash
# What `asb record` adds to a stream: the same requests sent straight to a fast upstream,
# through the recording proxy, and through a peer proxy that records nothing (nginx with
# `proxy_buffering off`, the usual C proxy in front of an SSE server), in one run.
#
#   bash bench/record.sh        # markdown table; raw JSON lines in bench/results/
#
# Upstream: `asb mock` with no jitter and no prefill, so every event is due at a known time
# and travels alone (not coalesced): 1 stream at 1000 tok/s, and 64 streams at 100 tok/s
# each (6,400 events/s: a busy GPU server's pace, which leaves the 2-core machine room for
# the load generator, the mock and the proxy together). Measured by bench/sse_load.rs on
# the client side: TTFT (send → first content event) and the mean arrival offset of every
# event; "added" = through the proxy minus direct. Per-event delay: every output event's
# wall-clock arrival at the client minus the moment the mock handed it to its connection
# (its truth log, joined on x-request-id), so the mock's 1 ms timer ticks cancel out.
# CPU per event comes from /proc (for asb record it includes building and writing the
# recording, on a lower-priority thread). A first, unreported round warms the connections.
source "$(dirname "$0")/common.sh" record
MOCK_PORT=19571; PROXY_PORT=19572; NGINX_PORT=19573
BODY='{"model":"m","messages":[{"role":"user","content":"hello"}],"max_tokens":128,"stream":true,"stream_options":{"include_usage":true}}'
MARKER='"delta":{"content":'

cat > "$TMP/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $TMP/nginx.pid; error_log $TMP/nginx-error.log;
events { worker_connections 4096; }
http { access_log off;
  upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 128; }
  server { listen 127.0.0.1:$NGINX_PORT;
    location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_buffering off; proxy_request_buffering off; tcp_nodelay on; } } }
CONF

scenario() { # decode_tps streams requests_per_stream
  local tps=$1 c=$2 r=$3
  "$ASB" mock -P $MOCK_PORT --base-latency-ms 0 --prefill-tps inf --decode-tps "$tps" --jitter 0 --batch-size 100000 \
    --truth-log "$TMP/truth-$c.jsonl" >/dev/null & local mock=$!
  "$ASB" record -e "http://127.0.0.1:$MOCK_PORT" -m m -o "$TMP/rec-$c.jsonl" -P $PROXY_PORT >/dev/null 2>&1 & local proxy=$!
  nginx -c "$TMP/nginx.conf" & local nginx=$!
  wait_port $MOCK_PORT; wait_port $PROXY_PORT; wait_port $NGINX_PORT
  local worker; worker=$(pgrep -P "$(cat "$TMP/nginx.pid")" | head -1)
  for round in 0 1 2 3; do
    for path in direct asb-record nginx; do
      local port pid
      case $path in direct) port=$MOCK_PORT pid=$mock;; asb-record) port=$PROXY_PORT pid=$proxy;; nginx) port=$NGINX_PORT pid=$worker;; esac
      local t0 t1 json
      t0=$(cpu_ticks $pid)
      json=$("$LOAD" --url "http://127.0.0.1:$port/v1/chat/completions" --body "$BODY" -c "$c" -r "$r" --ttft-marker "$MARKER" \
        --events-out "$TMP/events-$c-$path-$round.jsonl")
      t1=$(cpu_ticks $pid)
      [ "$round" = 0 ] && continue
      sleep 0.3  # the mock writes a request's truth line when it ends
      echo "{\"round\":$round,\"tps\":$tps,\"path\":\"$path\",\"cpu_ticks\":$((t1 - t0)),\"load\":$json,\"delay\":$(python3 bench/record_delay.py "$TMP/truth-$c.jsonl" "$TMP/events-$c-$path-$round.jsonl")}" >> "$RESULTS"
    done
  done
  kill -INT $proxy; wait $proxy 2>/dev/null || true
  kill $mock $nginx; wait $mock $nginx 2>/dev/null || true
}

scenario 1000 1 100
scenario 100 64 4

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"results: {sys.argv[1]}\n")
print("| streams × tok/s | path | TTFT p50 (ms) | TTFT p99 (ms) | added TTFT p50 / p99 (ms) | event delay p50 / mean (µs) | added per event p50 / mean (µs) | CPU per event (µs) |")
print("|---|---|---:|---:|---|---|---|---:|")
avg = lambda rs, f: sum(f(r) for r in rs) / len(rs)
for c in sorted({r["load"]["concurrency"] for r in rows}):
    sel = lambda path: [r for r in rows if r["load"]["concurrency"] == c and r["path"] == path]
    d = sel("direct")
    label = f"{c} × {d[0]['tps']}"
    d50, d99 = avg(d, lambda r: r["load"]["ttft_ms"]["p50"]), avg(d, lambda r: r["load"]["ttft_ms"]["p99"])
    dd50, ddmean = avg(d, lambda r: r["delay"]["p50_us"]), avg(d, lambda r: r["delay"]["mean_us"])
    print(f"| {label} | direct | {d50:.3f} | {d99:.3f} | | {dd50:.1f} / {ddmean:.1f} | | |")
    for path in ("asb-record", "nginx"):
        p = sel(path)
        p50, p99 = avg(p, lambda r: r["load"]["ttft_ms"]["p50"]), avg(p, lambda r: r["load"]["ttft_ms"]["p99"])
        e50, emean = avg(p, lambda r: r["delay"]["p50_us"]), avg(p, lambda r: r["delay"]["mean_us"])
        events = sum(r["load"]["events"] for r in p)
        cpu_us = sum(r["cpu_ticks"] for r in p) * 10_000 / max(events, 1)
        print(f"| {label} | {path} | {p50:.3f} | {p99:.3f} | {p50 - d50:+.3f} / {p99 - d99:+.3f} | {e50:.1f} / {emean:.1f} "
              f"| {e50 - dd50:+.1f} / {emean - ddmean:+.1f} | {cpu_us:.1f} |")
PY

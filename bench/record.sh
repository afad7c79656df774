#!/usr/bin/env bash
# What `asb record` adds to a stream: the same requests sent straight to a fast upstream,
# through the recording proxy, and through a peer proxy that records nothing (nginx with
# `proxy_buffering off`, the usual C proxy in front of an SSE server), in one run.
#
#   bash bench/record.sh        # markdown tables; raw JSON lines in bench/results/
#
# Upstream: `asb mock` with no jitter and no prefill, so every event is due at a known time
# and travels alone (not coalesced): 1 stream at 1000 tok/s, and 64 streams at 100 tok/s
# each (6,400 events/s: a busy GPU server's pace, which leaves the 2-core machine room for
# the load generator, the mock and the proxy together). The 64 streams run twice: "burst",
# all starting together (equal-length streams then also end together, so every new
# request arrives in a burst of 64), and "staggered", starts spread evenly over one
# stream's length, as independent agents would send them.
# Measured by bench/sse_load.rs on the client side: TTFT (send → first content event);
# "added" = through the proxy minus direct. Per event, exactly (bench/record_delay.py):
# every output event's wall-clock arrival at the client minus the moment the mock handed it
# to its connection (its truth log, joined on x-request-id), so the mock's 1 ms timer ticks
# cancel out: the hop latency of each event, and the change in the gap between
# consecutive events (what the path adds to the inter-token latency a client measures).
# CPU per event: the proxy's time on CPU from /proc/PID/task/*/schedstat (for asb record it includes building and writing the
# recording, on a lower-priority thread). A first, unreported round warms the connections.
source "$(dirname "$0")/common.sh" record
MOCK_PORT=19571; PROXY_PORT=19572; NGINX_PORT=19573
BODY='{"model":"m","messages":[{"role":"user","content":"hello"}],"max_tokens":128,"stream":true,"stream_options":{"include_usage":true}}'
MARKER='"delta":{"content":'

nginx_proxy_conf $NGINX_PORT $MOCK_PORT

scenario() { # name decode_tps streams requests_per_stream stagger_ms
  local name=$1 tps=$2 c=$3 r=$4 stagger=$5
  local slug=${name//[^a-z0-9]/-}
  "$ASB" mock -P $MOCK_PORT --base-latency-ms 0 --prefill-tps inf --decode-tps "$tps" --jitter 0 --batch-size 100000 \
    --truth-log "$TMP/truth-$slug.jsonl" >/dev/null & local mock=$!
  "$ASB" record -e "http://127.0.0.1:$MOCK_PORT" -m m -o "$TMP/rec-$slug.jsonl" -P $PROXY_PORT >/dev/null 2>&1 & local proxy=$!
  nginx -c "$TMP/nginx.conf" & local nginx=$!
  wait_port $MOCK_PORT; wait_port $PROXY_PORT; wait_port $NGINX_PORT
  local worker; worker=$(pgrep -P "$(cat "$TMP/nginx.pid")" | head -1)
  for round in 0 1 2 3; do
    for path in direct asb-record nginx; do
      local port pid
      case $path in direct) port=$MOCK_PORT pid=$mock;; asb-record) port=$PROXY_PORT pid=$proxy;; nginx) port=$NGINX_PORT pid=$worker;; esac
      local t0 t1 json
      t0=$(cpu_ns $pid)
      json=$("$LOAD" --url "http://127.0.0.1:$port/v1/chat/completions" --body "$BODY" -c "$c" -r "$r" --ttft-marker "$MARKER" \
        --stagger-ms "$stagger" --events-out "$TMP/events-$slug-$path-$round.jsonl")
      t1=$(cpu_ns $pid)
      [ "$round" = 0 ] && continue
      sleep 0.3  # the mock writes a request's truth line when it ends
      echo "{\"scenario\":\"$name\",\"round\":$round,\"tps\":$tps,\"path\":\"$path\",\"cpu_ns\":$((t1 - t0)),\"load\":$json,\"delay\":$(python3 bench/record_delay.py "$TMP/truth-$slug.jsonl" "$TMP/events-$slug-$path-$round.jsonl")}" >> "$RESULTS"
    done
  done
  kill -INT $proxy; wait $proxy 2>/dev/null || true
  kill $mock $nginx; wait $mock $nginx 2>/dev/null || true
}

scenario "1 × 1000" 1000 1 100 0
# The burst's p99 is set by a handful of requests (the last of each 64), so it gets 12
# requests per stream a round (768 TTFTs; its p99 is the 8th worst, not the 3rd of 256).
scenario "64 × 100 burst" 100 64 12 0
scenario "64 × 100 staggered" 100 64 4 1280

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"results: {sys.argv[1]}\n")
avg = lambda rs, f: sum(f(r) for r in rs) / len(rs)
scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
sel = lambda name, path: [r for r in rows if r["scenario"] == name and r["path"] == path]
print("| streams × tok/s | path | TTFT p50 (ms) | TTFT p99 (ms) | added TTFT p50 / p99 (ms) | CPU per event (µs) |")
print("|---|---|---:|---:|---|---:|")
for name in scenarios:
    ttft = lambda rs, p: avg(rs, lambda r: r["load"]["ttft_ms"][p])
    d = sel(name, "direct")
    print(f"| {name} | direct | {ttft(d, 'p50'):.3f} | {ttft(d, 'p99'):.3f} | | |")
    for path in ("asb-record", "nginx"):
        p = sel(name, path)
        events = sum(r["load"]["events"] for r in p)
        cpu_us = sum(r["cpu_ns"] for r in p) / 1000 / max(events, 1)
        print(f"| {name} | {path} | {ttft(p, 'p50'):.3f} | {ttft(p, 'p99'):.3f} "
              f"| {ttft(p, 'p50') - ttft(d, 'p50'):+.3f} / {ttft(p, 'p99') - ttft(d, 'p99'):+.3f} | {cpu_us:.1f} |")
print()
print("| streams × tok/s | path | hop per event p50 / mean (µs) | added hop p50 / mean (µs) | gap change p50 / mean / p99 (µs) | added gap change p50 / mean / p99 (µs) |")
print("|---|---|---|---|---|---|")
for name in scenarios:
    dl = lambda rs, k: avg(rs, lambda r: r["delay"][k])
    keys = ("gap_p50_us", "gap_mean_us", "gap_p99_us")
    d = sel(name, "direct")
    gaps = lambda rs: " / ".join(f"{dl(rs, k):+.1f}" for k in keys)
    print(f"| {name} | direct | {dl(d, 'p50_us'):.1f} / {dl(d, 'mean_us'):.1f} | | {gaps(d)} | |")
    for path in ("asb-record", "nginx"):
        p = sel(name, path)
        added = " / ".join(f"{dl(p, k) - dl(d, k):+.1f}" for k in keys)
        print(f"| {name} | {path} | {dl(p, 'p50_us'):.1f} / {dl(p, 'mean_us'):.1f} "
              f"| {dl(p, 'p50_us') - dl(d, 'p50_us'):+.1f} / {dl(p, 'mean_us') - dl(d, 'mean_us'):+.1f} | {gaps(p)} | {added} |")
PY

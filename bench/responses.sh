#!/usr/bin/env bash
# The OpenAI Responses paths beside the Chat Completions path, in one run: what `asb record`
# adds to a stream's TTFT, and what `asb serve` takes per call, for Chat and for Responses.
#
#   bash bench/responses.sh        # markdown tables; raw JSON lines in bench/results/
#
# Record: `asb mock` (no jitter, no prefill, as bench/record.sh) streams 128 tokens per
# request at 1,000 tok/s to 1 client, and at 100 tok/s each to 64 staggered clients. Each API
# is sent straight to the mock ("direct") and through `asb record`: Chat passed through;
# Responses passed through to a Responses upstream (`--upstream-api responses`: the mock
# speaks it), and translated to Chat Completions for a Chat-only upstream (the default).
# Measured by bench/sse_load.rs: TTFT = send → first frame holding the API's first text
# delta; "added" = through the proxy − direct, for the same API (the mock's own Responses
# encoding is in both). CPU per event: the proxy's time on CPU (/proc/PID/task/*/schedstat)
# over the events the client received. A first, unreported round warms the connections.
#
# Serve: 2,000 distinct small non-streamed calls of each API recorded through `asb record`
# in front of `asb mock --zero-delay`, then replayed against `asb serve` by
# bench/serve_load.rs on one persistent connection (write → last byte read), 2 rounds.
source "$(dirname "$0")/common.sh" responses
cargo build --release --quiet --example serve-load
SERVE_LOAD=target/release/examples/serve-load
PY="$HOME/.cache/asb-test-venv/bin/python"
MOCK_PORT=19591; REC_PORT=19592; REC_PASS_PORT=19593; SERVE_PORT=19594
CHAT='{"model":"m","messages":[{"role":"user","content":"hello"}],"max_tokens":128,"stream":true,"stream_options":{"include_usage":true}}'
RESP='{"model":"m","input":"hello","max_output_tokens":128,"stream":true}'
CHAT_MARKER='"delta":{"content":'
RESP_MARKER='"type":"response.output_text.delta"'

scenario() { # name decode_tps streams requests_per_stream stagger_ms
  local name=$1 tps=$2 c=$3 r=$4 stagger=$5
  "$ASB" mock -P $MOCK_PORT --base-latency-ms 0 --prefill-tps inf --decode-tps "$tps" --jitter 0 --batch-size 100000 \
    >/dev/null & local mock=$!
  "$ASB" record -e "http://127.0.0.1:$MOCK_PORT" -m m -o "$TMP/rec.jsonl" -P $REC_PORT >/dev/null 2>&1 & local rec=$!
  "$ASB" record -e "http://127.0.0.1:$MOCK_PORT" -m m --upstream-api responses -o "$TMP/rec-pass.jsonl" \
    -P $REC_PASS_PORT >/dev/null 2>&1 & local pass=$!
  wait_port $MOCK_PORT; wait_port $REC_PORT; wait_port $REC_PASS_PORT
  for round in 0 1 2 3; do
    for path in chat-direct chat-record responses-direct responses-record responses-translated; do
      local port pid=0 body=$CHAT marker=$CHAT_MARKER route=/v1/chat/completions
      case $path in responses-*) body=$RESP marker=$RESP_MARKER route=/v1/responses;; esac
      case $path in
        *-direct) port=$MOCK_PORT;;
        chat-record|responses-translated) port=$REC_PORT pid=$rec;;
        responses-record) port=$REC_PASS_PORT pid=$pass;;
      esac
      local t0=0 t1=0 json
      [ $pid != 0 ] && t0=$(cpu_ns $pid)
      json=$("$LOAD" --url "http://127.0.0.1:$port$route" --body "$body" -c "$c" -r "$r" --ttft-marker "$marker" \
        --stagger-ms "$stagger")
      [ $pid != 0 ] && t1=$(cpu_ns $pid)
      [ "$round" = 0 ] && continue
      echo "{\"kind\":\"record\",\"scenario\":\"$name\",\"round\":$round,\"path\":\"$path\",\"cpu_ns\":$((t1 - t0)),\"load\":$json}" >> "$RESULTS"
    done
  done
  kill -INT $rec $pass; wait $rec $pass 2>/dev/null || true
  kill $mock; wait $mock 2>/dev/null || true
}

scenario "1 × 1000" 1000 1 100 0
scenario "64 × 100 staggered" 100 64 4 1280

# Serve: record the calls, then time them against asb serve.
"$ASB" mock -P $MOCK_PORT --zero-delay >/dev/null & MOCK=$!
"$ASB" record -e "http://127.0.0.1:$MOCK_PORT" -m m --upstream-api responses -o "$TMP/small.jsonl" -P $REC_PORT \
  >/dev/null 2>&1 & REC=$!
wait_port $MOCK_PORT; wait_port $REC_PORT
"$PY" - "http://127.0.0.1:$REC_PORT" <<'PY'
import sys, httpx
with httpx.Client(base_url=sys.argv[1]) as c:
    for i in range(2000):
        c.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": f"call {i}"}], "max_tokens": 16}).raise_for_status()
    for i in range(2000):
        c.post("/v1/responses", json={"model": "m", "input": f"call {i}", "max_output_tokens": 16}).raise_for_status()
PY
kill -INT $REC; wait $REC 2>/dev/null || true
kill $MOCK; wait $MOCK 2>/dev/null || true
for round in 1 2; do
  "$ASB" serve -P $SERVE_PORT -w "$TMP/small.jsonl" >/dev/null 2>&1 & SERVE=$!
  wait_port $SERVE_PORT; sleep 1
  for api in chat responses; do
    skip=0; [ $api = responses ] && skip=2000
    j=$("$SERVE_LOAD" latency --addr 127.0.0.1:$SERVE_PORT --recording "$TMP/small.jsonl" --skip $skip --count 2000 --warmup 500)
    echo "{\"kind\":\"serve\",\"round\":$round,\"api\":\"$api\",\"load\":$j}" >> "$RESULTS"
  done
  kill -INT $SERVE; wait $SERVE 2>/dev/null || true
done

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"results: {sys.argv[1]}\n")
avg = lambda rs, f: sum(f(r) for r in rs) / len(rs)
rec = [r for r in rows if r["kind"] == "record"]
print("| streams × tok/s | path | TTFT p50 (ms) | TTFT p99 (ms) | added TTFT p50 / p99 (ms) | proxy CPU per event (µs) |")
print("|---|---|---:|---:|---|---:|")
for name in dict.fromkeys(r["scenario"] for r in rec):
    sel = lambda path: [r for r in rec if r["scenario"] == name and r["path"] == path]
    ttft = lambda rs, p: avg(rs, lambda r: r["load"]["ttft_ms"][p])
    for path, direct in (("chat-direct", None), ("chat-record", "chat-direct"), ("responses-direct", None),
                         ("responses-record", "responses-direct"), ("responses-translated", "responses-direct")):
        p = sel(path)
        if direct is None:
            print(f"| {name} | {path} | {ttft(p, 'p50'):.3f} | {ttft(p, 'p99'):.3f} | | |")
            continue
        d = sel(direct)
        cpu = sum(r["cpu_ns"] for r in p) / 1000 / max(sum(r["load"]["events"] for r in p), 1)
        print(f"| {name} | {path} | {ttft(p, 'p50'):.3f} | {ttft(p, 'p99'):.3f} | "
              f"{ttft(p, 'p50') - ttft(d, 'p50'):+.3f} / {ttft(p, 'p99') - ttft(d, 'p99'):+.3f} | {cpu:.2f} |")
serve = [r for r in rows if r["kind"] == "serve"]
print("\n| asb serve, small non-streamed calls | p50 (µs) | p99 (µs) | mean (µs) |")
print("|---|---:|---:|---:|")
for api in ("chat", "responses"):
    s = [r for r in serve if r["api"] == api]
    assert all(r["load"]["errors"] == 0 for r in s), s
    f = lambda k: avg(s, lambda r: r["load"]["latency_us"][k])
    print(f"| {api} | {f('p50'):.1f} | {f('p99'):.1f} | {f('mean'):.1f} |")
PY

#!/usr/bin/env bash
# Benchmark of `asb mock` as a load target, against nginx serving the same SSE bytes as a
# static file (the fastest neutral peer: no JSON, no timing model). Both servers get one
# core (CPU 0, `--workers 1` / `worker_processes 1`); the load generator runs on CPU 1.
#
#   bash bench/mock.sh            # prints a markdown table; raw JSON lines in bench/results/
#
# Scenarios:
#   zero-delay  c=1/64/256 streams, 256 tokens each, as fast as the client reads;
#   paced       256 streams decoding at 200 tok/s each (51,200 events/s due): what the
#               mock really sends against what its clock promises, and its CPU use.
source "$(dirname "$0")/common.sh" mock
MOCK_PORT=19561; NGINX_PORT=19562
BODY='{"model":"m","messages":[{"role":"user","content":"hello"}],"max_tokens":256,"stream":true,"stream_options":{"include_usage":true}}'

run() { # name server url body c r [pid]
  local name=$1 server=$2 url=$3 body=$4 c=$5 r=$6 pid=${7:-}
  local t0; [ -n "$pid" ] && t0=$(cpu_ticks "$pid")
  local args=(--url "$url" -c "$c" -r "$r"); [ -n "$body" ] && args+=(--body "$body")
  local json; json=$(taskset -c 1 "$LOAD" "${args[@]}")
  local cpu=null
  if [ -n "$pid" ]; then
    local secs; secs=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['seconds'])" "$json")
    cpu=$(python3 -c "import sys; print(round((int(sys.argv[2])-int(sys.argv[1]))/100/float(sys.argv[3])*100,1))" "$t0" "$(cpu_ticks "$pid")" "$secs")
  fi
  echo "{\"scenario\":\"$name\",\"server\":\"$server\",\"server_cpu_pct\":$cpu,\"load\":$json}" | tee -a "$RESULTS" >/dev/null
}

# asb mock, zero delay, one core.
taskset -c 0 "$ASB" mock --zero-delay --workers 1 -P $MOCK_PORT >/dev/null & MOCK=$!
wait_port $MOCK_PORT
mkdir -p "$TMP/www"
curl -s "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" -d "$BODY" > "$TMP/www/stream.sse"

# nginx, one worker, serving those exact bytes.
cat > "$TMP/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $TMP/nginx.pid; error_log $TMP/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; types { text/event-stream sse; }
  server { listen 127.0.0.1:$NGINX_PORT; root $TMP/www; } }
CONF
taskset -c 0 nginx -c "$TMP/nginx.conf" & NGINX=$!
wait_port $NGINX_PORT

for c in 1 64 256; do
  r=$(( 4000 / c + 1 ))
  run zero-delay asb-mock "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" "$BODY" $c $r $MOCK
  run zero-delay nginx-static "http://127.0.0.1:$NGINX_PORT/stream.sse" "" $c $r $NGINX
done
kill $MOCK; wait $MOCK 2>/dev/null || true

# Paced: the timing model on, 256 streams × 256 tokens at 200 tok/s each.
taskset -c 0 "$ASB" mock --workers 1 -P $MOCK_PORT --base-latency-ms 0 --prefill-tps inf --decode-tps 200 \
  --jitter 0 --batch-size 1024 >/dev/null & MOCK=$!
wait_port $MOCK_PORT
run paced-200tps asb-mock "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" "$BODY" 256 2 $MOCK

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"results: {sys.argv[1]}\n")
print("| scenario | streams | asb mock events/s | nginx static events/s | mock / nginx | mock CPU % | errors |")
print("|---|---:|---:|---:|---:|---:|---:|")
by = {}
for r in rows:
    by.setdefault((r["scenario"], r["load"]["concurrency"]), {})[r["server"]] = r
for (sc, c), d in by.items():
    m, n = d.get("asb-mock"), d.get("nginx-static")
    me = m["load"]["events_per_s"] if m else 0
    ne = n["load"]["events_per_s"] if n else None
    ratio = f"{me / ne:.2f}" if ne else "–"
    errs = sum(x["load"]["errors"] for x in d.values())
    print(f"| {sc} | {c} | {me:,.0f} | {'–' if ne is None else f'{ne:,.0f}'} | {ratio} | {m['server_cpu_pct'] if m else '–'} | {errs} |")
paced = by.get(("paced-200tps", 256), {}).get("asb-mock")
if paced:
    due = 256 * 200 * (258 / 256)  # 256 tokens + role, finish, usage, [DONE] events per 256-token stream
    print(f"\npaced: {paced['load']['events_per_s']:,.0f} events/s delivered of ~{due:,.0f} due "
          f"({paced['load']['events_per_s'] / due:.2f}); mock used {paced['server_cpu_pct']} % of one core")
PY

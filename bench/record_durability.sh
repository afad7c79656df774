#!/usr/bin/env bash
# What `asb record`'s durability promise costs and whether it holds.
#
#   bash bench/record_durability.sh      # markdown tables; raw JSON lines in bench/results/
#
# 1. kill -9 under load (bench/record_kill.py): 32 keep-alive streaming clients with 20 KB
#    prompts against the zero-delay mock, every core kept busy by spinning processes, the
#    recorder killed with SIGKILL after 8 s; three rounds, with and without --fsync. The
#    promise: no call a client had finished more than the stated bound (100 ms,
#    src/recording/writer.rs WRITTEN_WITHIN) before the kill is missing, and no line but
#    the last is torn.
# 2. Throughput with 1-token calls (8 connections × 2,000 calls, bench/sse_load.rs):
#    straight to the mock, through `asb record`, through `asb record --fsync` (a
#    `fdatasync` per batch of lines the writer drains), and through nginx (records
#    nothing: the peer).
source "$(dirname "$0")/common.sh" record-durability
MOCK_PORT=19581; PROXY_PORT=19582; NGINX_PORT=19583
ONE='{"model":"m","messages":[{"role":"user","content":"hello"}],"max_tokens":1,"stream":true}'

nginx_proxy_conf $NGINX_PORT $MOCK_PORT

"$ASB" mock -P $MOCK_PORT --zero-delay >/dev/null & MOCK=$!
wait_port $MOCK_PORT

echo "## kill -9 under load (32 clients, 20 KB prompts, both cores busy, bound 100 ms)"
echo
echo "| writer | round | calls finished | not on disk | oldest missing (ms before the kill) | lost beyond the bound | torn lines inside |"
echo "|---|---|---|---|---|---|---|"
for mode in default fsync; do
  for round in 1 2 3; do
    flags=(); [ $mode = fsync ] && flags=(--fsync)
    "$ASB" record -e "http://127.0.0.1:$MOCK_PORT" -m m -o "$TMP/kill-$mode-$round.jsonl" -P $PROXY_PORT "${flags[@]}" \
      >/dev/null 2>&1 & proxy=$!
    wait_port $PROXY_PORT
    json=$(python3 bench/record_kill.py $proxy "http://127.0.0.1:$PROXY_PORT" "$TMP/kill-$mode-$round.jsonl" 8 32 100)
    wait $proxy 2>/dev/null || true
    echo "{\"bench\":\"kill\",\"writer\":\"$mode\",\"round\":$round,\"result\":$json}" >> "$RESULTS"
    python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(f\"| $mode | $round | {r['finished']} | {r['not_on_disk']} | {r['oldest_missing_ms']} | {r['lost_beyond_bound']} | {r['torn_lines_inside']} |\")" "$json"
  done
done

echo
echo "## 1-token calls per second (8 connections × 2,000 calls)"
echo
echo "| path | round 1 | round 2 | round 3 |"
echo "|---|---|---|---|"
nginx -c "$TMP/nginx.conf" & NGINX=$!
wait_port $NGINX_PORT
declare -A RATES
for round in 1 2 3; do
  for path in direct asb-record asb-record-fsync nginx; do
    port=$MOCK_PORT proxy=
    case $path in
      asb-record|asb-record-fsync)
        flags=(); [ $path = asb-record-fsync ] && flags=(--fsync)
        "$ASB" record -e "http://127.0.0.1:$MOCK_PORT" -m m -o "$TMP/rate-$path-$round.jsonl" -P $PROXY_PORT "${flags[@]}" \
          >/dev/null 2>&1 & proxy=$!
        wait_port $PROXY_PORT; port=$PROXY_PORT;;
      nginx) port=$NGINX_PORT;;
    esac
    start=$(date +%s.%N)
    "$LOAD" --url "http://127.0.0.1:$port/v1/chat/completions" --body "$ONE" -c 8 -r 2000 >/dev/null
    end=$(date +%s.%N)
    rate=$(python3 -c "print(round(16000 / ($end - $start)))")
    if [ -n "$proxy" ]; then
      kill -INT $proxy; wait $proxy 2>/dev/null || true
      lines=$(wc -l < "$TMP/rate-$path-$round.jsonl")
      [ "$lines" = 16000 ] || { echo "$path round $round: $lines lines, expected 16000" >&2; exit 1; }
    fi
    echo "{\"bench\":\"rate\",\"path\":\"$path\",\"round\":$round,\"calls_per_s\":$rate}" >> "$RESULTS"
    RATES[$path]="${RATES[$path]:-} | $rate"
  done
done
for path in direct asb-record asb-record-fsync nginx; do echo "| $path${RATES[$path]} |"; done
echo
echo "Raw results: $RESULTS"

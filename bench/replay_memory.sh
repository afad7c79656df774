#!/usr/bin/env bash
# What a big replay costs in memory, and what merging shards costs (issue 22's goals:
# 1,000,000 requests in ≤ 200 MiB peak RSS; 16 shards × 100,000 requests merged in ≤ 2 s).
#
#   bash bench/replay_memory.sh [REQUESTS]    # default 100000; markdown lines at the end
#
# 1. One replay of REQUESTS one-token calls (a one-line recording, -r REQUESTS, 8 sessions)
#    against the embedded zero-delay mock: peak RSS (GNU time's maximum resident set) and
#    the run JSON's size per request.
# 2. Four shards of the same work (`--shard K/4`, run one after the other), then
#    `asb report -i 'shard-*.json' -o merged.json`: the merge's wall time and peak RSS.
# No peer: the peers' figures for this are in their issues (AIPerf #865: ~37 GB for 1M
# requests × 5K chunks of raw ITL; inference-perf #797: no exact merge at all).
source "$(dirname "$0")/common.sh" replay_memory
N=${1:-100000}
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is required: apt-get install time" >&2; exit 1; }
echo '{"seq": 1, "messages": [{"role": "user", "content": "hi"}], "model": "m", "max_tokens": 1, "stream": true}' > "$TMP/one.jsonl"
peak() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }
elapsed() { awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$1"; }

/usr/bin/time -v "$ASB" replay -w "$TMP/one.jsonl" -r "$N" --mock-args "--zero-delay --answer-tokens 1" \
  --max-concurrent 8 -o "$TMP/run.json" >/dev/null 2>"$TMP/time-run"
run_mib=$(peak "$TMP/time-run")
json_bytes=$(stat -c %s "$TMP/run.json")

for k in 0 1 2 3; do
  "$ASB" replay -w "$TMP/one.jsonl" -r "$N" --mock-args "--zero-delay --answer-tokens 1" --max-concurrent 8 \
    --shard "$k/4" -o "$TMP/shard-$k.json" >/dev/null 2>&1
done
/usr/bin/time -v "$ASB" report -i "$TMP/shard-*.json" -o "$TMP/merged.json" >/dev/null 2>"$TMP/time-merge"
merged=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['requests']))" "$TMP/merged.json")

python3 - "$RESULTS" "$N" "$run_mib" "$json_bytes" "$merged" "$(peak "$TMP/time-merge")" "$(elapsed "$TMP/time-merge")" <<'PY'
import json, sys
path, n, run_mib, json_bytes, merged, merge_mib, merge_wall = sys.argv[1:]
row = {"requests": int(n), "run_peak_mib": int(run_mib), "json_bytes_per_request": int(json_bytes) / int(n),
       "merged_requests": int(merged), "merge_peak_mib": int(merge_mib), "merge_wall": merge_wall}
open(path, "a").write(json.dumps(row) + "\n")
print(f"| {int(n):,} requests, one run | peak RSS {row['run_peak_mib']} MiB | run JSON {row['json_bytes_per_request']:.0f} B/request |")
print(f"| 4 shards merged ({int(merged):,} requests) | peak RSS {row['merge_peak_mib']} MiB | wall {merge_wall} |")
PY

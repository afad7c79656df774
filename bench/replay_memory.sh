#!/usr/bin/env bash
# What a big replay costs in memory, what merging shards costs, and whether the spill and
# ITL-histogram path costs events/s (issue 22's goals: 1,000,000 requests in ≤ 200 MiB peak
# RSS; 16 shards × 100,000 requests merged in ≤ 2 s; events/s unchanged by the histograms).
#
#   bash bench/replay_memory.sh            # quick: 100,000 requests, 4 shards × 25,000
#   bash bench/replay_memory.sh --full     # the goals' sizes: 1,000,000 requests, 16 × 100,000
#
# 1. One replay of N one-token calls (a one-line recording, -r N, 8 sessions) against the
#    embedded zero-delay mock, held whole (ASB_SPILL_AFTER=never: the path before issue 22)
#    and spilled (the default): peak RSS (GNU time's maximum resident set) and the run
#    JSON's bytes per request.
# 2. S shards (`--shard K/S`, 8 sessions each, run one after the other, each M requests), then
#    `asb report -i 'shard-*.json'` to a Markdown report, an HTML report and a merged JSON: wall time
#    and peak RSS of each.
# 3. Events/s A/B in this one run: 64-token answers at zero delay (every gap recorded),
#    (and a third arm, spilled with the raw gaps kept: what the histograms themselves cost),
#    held whole vs spilled with every gap folded into histograms (ASB_SPILL_AFTER=0
#    ASB_ITL_RAW_CAP=0), alternated A B five times; events/s = Σ content_events / duration_s,
#    the ratio = mean spilled / mean held (and the median of the five pairs' ratios: one
#    pair hit by a neighbour's load moves it less); CPU = the process's user + system time
#    (GNU time), its difference per request = (median spilled − median held) / 20,000.
# No peer: the peers' figures for this are in their issues (AIPerf #865: ~37 GB for 1M
# requests × 5K chunks of raw ITL; inference-perf #797: no exact merge at all).
source "$(dirname "$0")/common.sh" replay_memory
if [ "${1:-}" = "--full" ]; then N=1000000; SHARDS=16; PER_SHARD=100000; else N=100000; SHARDS=4; PER_SHARD=25000; fi
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is required: apt-get install time" >&2; exit 1; }
echo '{"seq": 1, "messages": [{"role": "user", "content": "hi"}], "model": "m", "max_tokens": 1, "stream": true}' > "$TMP/one.jsonl"
echo '{"seq": 1, "messages": [{"role": "user", "content": "hi"}], "model": "m", "max_tokens": 64, "stream": true}' > "$TMP/many.jsonl"
peak() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$1"; }
one_run() {  # ENV-ASSIGNMENT NAME
  env "$1" /usr/bin/time -v "$ASB" replay -w "$TMP/one.jsonl" -r "$N" --mock-args "--zero-delay --answer-tokens 1" \
    --max-concurrent 8 -o "$TMP/$2.json" >/dev/null 2>"$TMP/time-$2" || true  # its verdict is not the point
  echo "$(peak "$TMP/time-$2") $(stat -c %s "$TMP/$2.json")"; rm -f "$TMP/$2.json"
}
read -r held_mib held_bytes < <(one_run ASB_SPILL_AFTER=never held)
read -r spilled_mib spilled_bytes < <(one_run ASB_SPILL_AFTER=2000 spilled)

mkdir -p "$TMP/shards"
for k in $(seq 0 $((SHARDS - 1))); do
  "$ASB" replay -w "$TMP/one.jsonl" -r $((SHARDS * PER_SHARD)) --mock-args "--zero-delay --answer-tokens 1" \
    --max-concurrent $((8 * SHARDS)) --shard "$k/$SHARDS" -o "$TMP/shards/shard-$k.json" >/dev/null 2>&1 || true
done
/usr/bin/time -v "$ASB" report -i "$TMP/shards/shard-*.json" -o "$TMP/merged.md" >/dev/null 2>"$TMP/time-md"
/usr/bin/time -v "$ASB" report -i "$TMP/shards/shard-*.json" -o "$TMP/merged.html" >/dev/null 2>"$TMP/time-html"
/usr/bin/time -v "$ASB" report -i "$TMP/shards/shard-*.json" -o "$TMP/merged.json" >/dev/null 2>"$TMP/time-json"
merged=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['requests']))" "$TMP/merged.json")

events_per_s() {  # ENV... : one 20,000-request run of 64-token answers, its events/s and CPU seconds
  env "$@" /usr/bin/time -f "%U %S" "$ASB" replay -w "$TMP/many.jsonl" -r 20000 --mock-args "--zero-delay --answer-tokens 64" \
    --max-concurrent 8 -o "$TMP/ab.json" >/dev/null 2>"$TMP/time-ab" || true
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); u,s=open(sys.argv[2]).read().split()[-2:]; print('%f,%.2f' % (sum(q['content_events'] for q in r['requests']) / r['summary']['duration_s'], float(u) + float(s)))" "$TMP/ab.json" "$TMP/time-ab"
}
ab=()
raw=()
for _ in 1 2 3 4 5; do
  ab+=("$(events_per_s ASB_SPILL_AFTER=never)" "$(events_per_s ASB_SPILL_AFTER=0 ASB_ITL_RAW_CAP=0)")
  raw+=("$(events_per_s ASB_SPILL_AFTER=0)")
done

python3 - "$RESULTS" "$N" "$held_mib" "$held_bytes" "$spilled_mib" "$spilled_bytes" "$SHARDS" "$PER_SHARD" "$merged" \
  "$(peak "$TMP/time-md")" "$(wall "$TMP/time-md")" "$(peak "$TMP/time-json")" "$(wall "$TMP/time-json")" \
  "$(peak "$TMP/time-html")" "$(wall "$TMP/time-html")" "${raw[*]}" "${ab[@]}" <<'PY'
import json, sys
import statistics
(path, n, held_mib, held_bytes, spilled_mib, spilled_bytes, shards, per_shard, merged, md_mib, md_wall, json_mib,
 json_wall, html_mib, html_wall, raw) = sys.argv[1:17]
ab = [tuple(map(float, x.split(","))) for x in sys.argv[17:]]
raw = [tuple(map(float, x.split(","))) for x in raw.split()]
n = int(n)
held, hist = ab[0::2], ab[1::2]
held_events = statistics.mean(e for e, _ in held)
hist_events = statistics.mean(e for e, _ in hist)
pair_ratio = statistics.median(b[0] / a[0] for a, b in zip(held, hist))
held_cpu, hist_cpu = statistics.median(c for _, c in held), statistics.median(c for _, c in hist)
row = {"requests": n, "held_peak_mib": int(held_mib), "held_json_bytes_per_request": int(held_bytes) / n,
       "spilled_peak_mib": int(spilled_mib), "spilled_json_bytes_per_request": int(spilled_bytes) / n,
       "shards": int(shards), "requests_per_shard": int(per_shard), "merged_requests": int(merged),
       "merge_md_peak_mib": int(md_mib), "merge_md_wall": md_wall, "merge_json_peak_mib": int(json_mib),
       "merge_json_wall": json_wall, "merge_html_peak_mib": int(html_mib), "merge_html_wall": html_wall,
       "events_per_s_held": [e for e, _ in held],
       "events_per_s_histograms": [e for e, _ in hist], "events_ratio": hist_events / held_events,
       "events_ratio_pairs_median": pair_ratio, "cpu_s_held": [c for _, c in held],
       "cpu_s_histograms": [c for _, c in hist], "events_per_s_spilled_raw_gaps": [e for e, _ in raw],
       "cpu_s_spilled_raw_gaps": [c for _, c in raw], "cpu_us_per_request_difference": (hist_cpu - held_cpu) / 20000 * 1e6}
open(path, "a").write(json.dumps(row) + "\n")
print(f"| {n:,} requests, held whole (before) | peak RSS {held_mib} MiB | run JSON {int(held_bytes) / n:.0f} B/request |")
print(f"| {n:,} requests, spilled | peak RSS {spilled_mib} MiB | run JSON {int(spilled_bytes) / n:.0f} B/request |")
print(f"| {shards} shards × {int(per_shard):,} merged to .md | wall {md_wall} | peak RSS {md_mib} MiB |")
print(f"| {shards} shards × {int(per_shard):,} merged to .html | wall {html_wall} | peak RSS {html_mib} MiB |")
print(f"| {shards} shards × {int(per_shard):,} merged to .json ({int(merged):,} requests) | wall {json_wall} | peak RSS {json_mib} MiB |")
show = lambda runs: " / ".join(f"{e:,.0f}" for e, _ in runs)
print(f"| events/s, 64-token answers: held {show(held)}, histograms {show(hist)} | ratio {hist_events / held_events:.3f} (pairs' median {pair_ratio:.3f}) | |")
raw_events = statistics.mean(e for e, _ in raw)
print(f"| events/s, spilled with raw gaps kept: {show(raw)} | histograms / raw gaps {hist_events / raw_events:.3f} | |")
print(f"| CPU (user + sys) of 20,000 requests: held {' / '.join(f'{c:.2f}' for _, c in held)} s, histograms {' / '.join(f'{c:.2f}' for _, c in hist)} s | {(hist_cpu - held_cpu) / 20000 * 1e6:+.1f} µs a request (medians) | |")
PY

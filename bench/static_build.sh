#!/usr/bin/env bash
# The container image's static binary against the usual glibc one: is the image's replay
# as fast? The image (Dockerfile) builds for x86_64-unknown-linux-musl; musl's own malloc
# cost replay 1.6× the CPU per request, so the static build uses mimalloc (src/main.rs).
#
#   bash bench/static_build.sh [ROUNDS]    # default 5; markdown lines at the end
#
# 1. Builds the static binary the way the Dockerfile does (musl-tools, the rustup target;
#    installed when missing) into target/static/.
# 2. ROUNDS times, alternating the two binaries: one replay of 20,000 requests of 64 tokens
#    (8 streams) against each one's embedded zero-delay mock: wall time, CPU (user + sys,
#    client and mock together: one process) and peak RSS (GNU time).
# The peer is the glibc build of the same commit; the figure is the ratio of medians.
source "$(dirname "$0")/common.sh" static_build
ROUNDS=${1:-5}
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is required: apt-get install time" >&2; exit 1; }
command -v musl-gcc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null; }
rustup target list --installed | grep -q x86_64-unknown-linux-musl || rustup target add x86_64-unknown-linux-musl
CARGO_TARGET_DIR=target/static cargo build --release --locked --quiet --target x86_64-unknown-linux-musl --bin asb
STATIC=target/static/x86_64-unknown-linux-musl/release/asb
file "$STATIC" | grep -q "static" || { echo "$STATIC is not statically linked" >&2; exit 1; }

echo '{"seq": 1, "messages": [{"role": "user", "content": "hi"}], "model": "m", "max_tokens": 64, "stream": true}' > "$TMP/one.jsonl"
for round in $(seq "$ROUNDS"); do
  for build in glibc static; do
    bin=$ASB; [ "$build" = static ] && bin=$STATIC
    /usr/bin/time -f "%e %U %S %M" -o "$TMP/time" "$bin" replay -w "$TMP/one.jsonl" -r 20000 --max-concurrent 8 \
      --mock-args "--zero-delay --answer-tokens 64" -o "$TMP/run.json" >/dev/null 2>&1
    read -r wall user sys rss < "$TMP/time"
    echo "{\"round\": $round, \"build\": \"$build\", \"wall_s\": $wall, \"cpu_s\": $(awk "BEGIN {print $user + $sys}"), \"peak_kib\": $rss}" >> "$RESULTS"
  done
done

python3 - "$RESULTS" "$(uptime | sed 's/.*load average: //')" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {b: {k: statistics.median(r[k] for r in rows if r["build"] == b) for k in ("wall_s", "cpu_s", "peak_kib")}
       for b in ("glibc", "static")}
print(f"load average at the end: {sys.argv[2]}; {len(rows) // 2} rounds, medians")
print("| build | wall | CPU (user + sys) | peak RSS |")
print("|---|---|---|---|")
for b, label in (("glibc", "glibc (target/release/asb)"), ("static", "static musl + mimalloc (the image's)")):
    m = med[b]
    print(f"| {label} | {m['wall_s']:.2f} s | {m['cpu_s']:.2f} s | {m['peak_kib'] / 1024:.0f} MiB |")
print(f"| static / glibc | {med['static']['wall_s'] / med['glibc']['wall_s']:.2f}× | "
      f"{med['static']['cpu_s'] / med['glibc']['cpu_s']:.2f}× | {med['static']['peak_kib'] / med['glibc']['peak_kib']:.2f}× |")
PY

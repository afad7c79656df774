#!/usr/bin/env bash
# `asb serve`'s load-to-first-answer on a 50 MB recording: plain JSONL against the same
# calls written compressed by `asb record -o x.jsonl.zst` / `.jsonl.gz` (one frame per call),
# and against one whole-file zstd frame (`zstd -3`, what compressing a finished recording
# gives), in one run.
#
#   bash bench/serve_compressed.sh      # markdown table at the end; raw JSON lines in bench/results/
#
# The recordings are written by three `asb record` proxies chained in front of
# `asb mock --zero-delay` (client → record -o s50.jsonl → record -o s50.jsonl.zst → record
# -o s50.jsonl.gz → mock), so each holds the very same calls: Claude-Code-like agent
# threads (bench/serve/gen_session.py, 16 KB system prompt, 16 tools, conversations growing
# to ~200 KB) until the plain file reaches 50 MB. Each file is then served 5 times, in
# turn: process start → first answer of its first call (bench/serve_load.rs first-answer).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$HOME/.cache/asb-bench-venv"
PY="$VENV/bin/python"
if ! "$PY" -c 'import agenttape, openai; assert agenttape.__version__ == "0.1.8"' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$PY" -m pip install -q agenttape==0.1.8 openai
fi
command -v zstd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd >/dev/null; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin asb --example serve-load
ASB="$CARGO_TARGET_DIR/release/asb"
LOAD="$CARGO_TARGET_DIR/release/examples/serve-load"
OUT=bench/results; mkdir -p "$OUT"
RESULTS="$OUT/serve-compressed-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
TMP=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
MOCK=19591; GZ=19592; ZST=19593; PLAIN=19594; SERVE=19595
wait_port() { for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
emit() { echo "$1" >> "$RESULTS"; }
emit "{\"bench\":\"machine\",\"when\":\"start\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"commit\":\"$(git rev-parse --short HEAD)\"}"

echo "recording 50 MB through three chained recorders…" >&2
"$ASB" mock --zero-delay --tool-call-rate 0.85 --seed 0 -P $MOCK >/dev/null & PIDS=$!
wait_port $MOCK
"$ASB" record -e "http://127.0.0.1:$MOCK" -m m -o "$TMP/s50.jsonl.gz" -P $GZ >/dev/null 2>&1 & PIDS="$PIDS $!"
wait_port $GZ
"$ASB" record -e "http://127.0.0.1:$GZ" -m m -o "$TMP/s50.jsonl.zst" -P $ZST >/dev/null 2>&1 & PIDS="$PIDS $!"
wait_port $ZST
"$ASB" record -e "http://127.0.0.1:$ZST" -m m -o "$TMP/s50.jsonl" -P $PLAIN >/dev/null 2>&1 & PIDS="$PIDS $!"
wait_port $PLAIN
"$PY" bench/serve/gen_session.py session --base-url "http://127.0.0.1:$PLAIN/v1" --cassette "$TMP/s50.yaml" \
  --recording "$TMP/s50.jsonl" --target-mb 50
for p in $(echo $PIDS | tr ' ' '\n' | tac); do kill -INT $p; wait $p 2>/dev/null || true; done
zstd -q -3 "$TMP/s50.jsonl" -o "$TMP/s50-whole.jsonl.zst"
for f in s50.jsonl s50.jsonl.zst s50.jsonl.gz s50-whole.jsonl.zst; do
  "$ASB" validate "$TMP/$f" >/dev/null
  emit "{\"bench\":\"file\",\"file\":\"$f\",\"bytes\":$(stat -c %s "$TMP/$f"),\"calls\":$(wc -l < "$TMP/s50.jsonl")}"
done

echo "load to first answer…" >&2
for round in 1 2 3 4 5; do
  for f in s50.jsonl s50.jsonl.zst s50.jsonl.gz s50-whole.jsonl.zst; do
    j=$("$LOAD" first-answer --port $SERVE --recording "$TMP/s50.jsonl" -- "$ASB" serve -w "$TMP/$f" -P $SERVE)
    emit "{\"bench\":\"load\",\"file\":\"$f\",\"round\":$round,\"r\":$j}"
  done
done
emit "{\"bench\":\"machine\",\"when\":\"end\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
files = {r["file"]: r for r in rows if r["bench"] == "file"}
load = {}
for r in rows:
    if r["bench"] == "load":
        load.setdefault(r["file"], []).append(r["r"]["start_to_first_answer_ms"])
plain = statistics.median(load["s50.jsonl"])
machine = [r["loadavg"] for r in rows if r["bench"] == "machine"]
print(f"results: {sys.argv[1]}; load average {machine[0]} → {machine[-1]}")
print("| file | size (MB) | ratio | start → first answer, median of 5 (ms) | min–max (ms) | × plain |")
print("|---|---|---|---|---|---|")
for name, f in files.items():
    ms = load[name]
    med = statistics.median(ms)
    print(f"| {name} | {f['bytes'] / 1e6:.1f} | {files['s50.jsonl']['bytes'] / f['bytes']:.1f}× | {med:.0f} | "
          f"{min(ms):.0f}–{max(ms):.0f} | {med / plain:.2f} |")
PY

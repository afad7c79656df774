#!/usr/bin/env bash
# The pytest plugin's per-test overhead against vcrpy on the same calls, in one run:
# bench/plugin/overhead.py times what a test pays around its LLM calls with each (asb: the
# fixture's AsbServer start → first answer → stop; vcrpy: use_cassette enter → first answer
# → exit), 50 rounds of a 3-call test (openai SDK, small non-streamed chat calls recorded
# from `asb mock --zero-delay`), then the same 50-test suite under pytest both ways.
#
#   bash bench/plugin.sh      # JSON and a markdown table at the end; raw lines in bench/results/
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$HOME/.cache/asb-plugin-bench-venv"
PY="$VENV/bin/python"
if ! "$PY" -c 'import vcr, openai, pytest; assert vcr.__version__ == "9.4.2"' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$PY" -m pip install -q vcrpy==9.4.2 openai pytest
fi
"$PY" -m pip install -q --disable-pip-version-check ./python
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin asb
export ASB_BIN="$CARGO_TARGET_DIR/release/asb"
mkdir -p bench/results
RESULTS="bench/results/plugin-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
TMP=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
MOCK=19601
"$ASB_BIN" mock --zero-delay -P $MOCK >/dev/null 2>&1 &
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$MOCK) 2>/dev/null && break; sleep 0.05; done
echo "{\"bench\":\"machine\",\"when\":\"start\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"commit\":\"$(git rev-parse --short HEAD)\"}" >> "$RESULTS"
"$PY" bench/plugin/overhead.py record --dir "$TMP/c" --calls 3 --mock "http://127.0.0.1:$MOCK" --asb-bin "$ASB_BIN"
j=$("$PY" bench/plugin/overhead.py measure --dir "$TMP/c" --calls 3 --rounds 50 --mock "http://127.0.0.1:$MOCK" --asb-bin "$ASB_BIN")
echo "{\"bench\":\"overhead\",\"r\":$j}" >> "$RESULTS"

# The same 50 tests under pytest: one with the fixture, one with vcrpy's use_cassette.
mkdir -p "$TMP/suite/cassettes/test_asb" "$TMP/suite/vcr"
for i in $(seq -w 1 50); do cp "$TMP/c/asb.jsonl" "$TMP/suite/cassettes/test_asb/test_$i.jsonl"; cp "$TMP/c/vcr.yaml" "$TMP/suite/vcr/test_$i.yaml"; done
"$PY" - "$TMP/suite" <<'PY'
import sys
from pathlib import Path
d = Path(sys.argv[1])
calls = '''
    c = openai.OpenAI(max_retries=0, api_key="x"{base})
    for i in range(3):
        c.chat.completions.create(model="m", messages=[{{"role": "user", "content": f"call {{i}} of a test"}}], max_tokens=16)
'''
asb = ["import openai", ""] + [f"def test_{i:02}(asb_serve):" + calls.format(base="") for i in range(1, 51)]
v = ["import openai, vcr", ""] + [f"@vcr.use_cassette('vcr/test_{i:02}.yaml', record_mode='none')\ndef test_{i:02}():"
                                  + calls.format(base=", base_url='http://127.0.0.1:19601/v1'") for i in range(1, 51)]
(d / "test_asb.py").write_text("\n".join(asb))
(d / "test_vcr.py").write_text("\n".join(v))
PY
suite() { # file → seconds of the session (pytest's own figure)
  (cd "$TMP/suite" && "$PY" -m pytest -q -p no:cacheprovider "$1" 2>&1 | tail -1 | grep -oE '[0-9.]+s' | head -1 | tr -d s)
}
for round in 1 2 3; do
  for f in test_asb.py test_vcr.py; do
    echo "{\"bench\":\"suite\",\"file\":\"$f\",\"round\":$round,\"seconds\":$(suite $f)}" >> "$RESULTS"
  done
done
echo "{\"bench\":\"machine\",\"when\":\"end\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$RESULTS"
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
o = next(r["r"] for r in rows if r["bench"] == "overhead")
m = [r["loadavg"] for r in rows if r["bench"] == "machine"]
print(f"results: {sys.argv[1]}; load average {m[0]} → {m[-1]}; {o['rounds']} rounds of {o['calls']} calls; "
      f"the test body (new client + calls) on a warm server: {o['warm_calls_ms']:.1f} ms")
print("| tool | start (p50 ms) | first answer (p50 ms) | stop (p50 ms) | test total p50 / p90 (ms) | overhead p50 / p90 (ms) |")
print("|---|---:|---:|---:|---:|---:|")
for t in ("asb", "vcrpy"):
    r = o[t]
    print(f"| {t} | {r['start']['p50_ms']:.1f} | {r['first']['p50_ms']:.1f} | {r['stop']['p50_ms']:.1f} | "
          f"{r['total']['p50_ms']:.1f} / {r['total']['p90_ms']:.1f} | {r['overhead']['p50_ms']:.1f} / {r['overhead']['p90_ms']:.1f} |")
for f in ("test_asb.py", "test_vcr.py"):
    s = [r["seconds"] for r in rows if r["bench"] == "suite" and r["file"] == f]
    print(f"| pytest, 50 tests, {f} | median {statistics.median(s):.2f} s ({', '.join(f'{x:.2f}' for x in s)}) |")
PY

#!/usr/bin/env bash
# Records a real multi-turn Codex CLI session, headless (`codex exec`, then `codex exec
# resume --last`), through `asb record` in front of the real llama.cpp server of
# scripts/llama-upstream.sh, and writes it as a scenario (asb's layout: scenario.json + one
# recording) — the source of the built-in `builtin:codex-smollm2`.
#
#   bash scripts/record-codex.sh [OUT_DIR]     # default: scenarios/codex-smollm2
#
# Codex speaks only the OpenAI Responses API; the server has Chat Completions, so the
# recorder translates (the recording keeps both sides). Codex is set up through its
# documented custom-provider settings (base_url, wire_api = "responses", env_key), in a
# throwaway CODEX_HOME, offline: optional features that reach the network or add tools a
# tiny model cannot use are off, and its base instructions are one line
# (model_instructions_file), so each call is a ~800-token prompt. Codex sends no output
# cap: the server stops each answer at 40 tokens (ASB_UPSTREAM_N_PREDICT), which Codex
# reports as an incomplete answer (exit 1) — still a real, valid recording. Takes about
# two minutes on 2 CPU cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/scenarios/codex-smollm2}
MODEL=smollm2
LLAMA_PORT=${ASB_LLAMA_PORT:-18241}
REC_PORT=${ASB_RECORD_PORT:-18242}
CODEX=${ASB_CODEX_PREFIX:-$HOME/.cache/asb-codex}/bin/codex
PROMPTS=(
  "Read calc.py and say in one sentence what add() does."
  "Is there a bug in add()? Answer in one sentence."
  "Suggest a one-line fix for it."
)
DISABLED=(multi_agent goals apps plugins image_generation browser_use computer_use view_image tool_suggest skill_search hooks)

cd "$ROOT"
bash scripts/install-upstreams.sh >&2
cargo build --release --quiet --bin asb
ASB=$ROOT/target/release/asb

WORK=$(mktemp -d)
cleanup() {
  [ -n "${REC:-}" ] && kill -INT "$REC" 2>/dev/null && wait "$REC" 2>/dev/null || true
  bash "$ROOT/scripts/llama-upstream.sh" stop "$LLAMA_PORT" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

LLAMA_URL=$(ASB_UPSTREAM_N_PREDICT=40 bash "$ROOT/scripts/llama-upstream.sh" start "$LLAMA_PORT" | tail -n 1)
"$ASB" record -e "$LLAMA_URL" -m "$MODEL" -o "$WORK/session.jsonl" -P "$REC_PORT" >"$WORK/record.log" 2>&1 &
REC=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$REC_PORT) 2>/dev/null && break; sleep 0.1; done

mkdir -p "$WORK/project" "$WORK/codex-home"
cat >"$WORK/project/calc.py" <<'PY'
def add(a, b):
    """Return the sum of a and b."""
    return a - b


if __name__ == "__main__":
    print(add(2, 3))
PY
echo "You are a coding agent. Answer in one short sentence." >"$WORK/codex-home/instructions.md"
cat >"$WORK/codex-home/config.toml" <<TOML
model = "$MODEL"
model_provider = "asb"
model_instructions_file = "$WORK/codex-home/instructions.md"
web_search = "disabled"
check_for_update_on_startup = false

[model_providers.asb]
name = "asb"
base_url = "http://127.0.0.1:$REC_PORT/v1"
env_key = "ASB_CODEX_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
TOML

FLAGS=(--skip-git-repo-check)
for f in "${DISABLED[@]}"; do FLAGS+=(--disable "$f"); done
RESUME=()
OUTCOMES=()
for prompt in "${PROMPTS[@]}"; do
  set +e
  (cd "$WORK/project" && CODEX_HOME=$WORK/codex-home ASB_CODEX_KEY=dummy timeout 600 \
    "$CODEX" exec "${RESUME[@]}" "${FLAGS[@]}" "$prompt" </dev/null) >"$WORK/turn.txt" 2>>"$WORK/codex.log"
  code=$?
  set -e
  OUTCOMES+=("$code")
  echo "turn exit $code: $(head -c 300 "$WORK/turn.txt")" >&2
  RESUME=(resume --last)
done
kill -INT "$REC"; wait "$REC" || true; REC=

"$ASB" validate "$WORK/session.jsonl" >&2
mkdir -p "$OUT"
cp "$WORK/session.jsonl" "$OUT/session.jsonl"
VERSION=$("$CODEX" --version | awk '{print $2}')
CALLS=$(grep -c . "$OUT/session.jsonl")
python3 - "$OUT/scenario.json" "$VERSION" "$MODEL" "$CALLS" "${OUTCOMES[*]}" "${PROMPTS[@]}" <<'PY'
import datetime, json, sys
path, version, model, calls, outcomes, *prompts = sys.argv[1:]
json.dump({
    "name": "codex-smollm2",
    "description": f"A real Codex CLI {version} session ({len(prompts)} prompts continued in one "
                   f"conversation, OpenAI Responses API translated to Chat Completions) recorded against "
                   f"llama.cpp serving {model}: {calls} calls",
    "model": model,
    "provenance": {
        "codex_version": version,
        "server": "llama.cpp (xllamacpp wheel) via scripts/llama-upstream.sh, answers capped at 40 tokens",
        "model": model,
        "recorded_at": datetime.date.today().isoformat(),
        "prompts": prompts,
        "codex_exit_codes": [int(c) for c in outcomes.split()],
        "command": "bash scripts/record-codex.sh",
    },
    "tasks": [{"id": "fix-add", "name": "Find and fix the bug in calc.py", "recording": "session.jsonl"}],
}, open(path, "w"), indent=2)
open(path, "a").write("\n")
PY
echo "wrote $OUT ($CALLS calls)" >&2

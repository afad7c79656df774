#!/usr/bin/env bash
# Records a real multi-turn Claude Code session, headless, through `asb record` in front of
# the real llama.cpp server of scripts/llama-upstream.sh, and writes it as a scenario (asb's
# layout: scenario.json + one recording) — the source of the built-in
# `builtin:claude-code-smollm2`.
#
#   bash scripts/record-claude-code.sh [OUT_DIR]     # default: scenarios/claude-code-smollm2
#
# The session: a throwaway project with a small Python bug; three prompts continued in one
# conversation (`--continue`), so the context grows turn by turn; Claude Code's default
# tools and system prompt (no --bare), as users run it. Offline and bounded as
# ../shared/upstreams/claude-code.md says: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 and
# CLAUDE_CODE_MAX_OUTPUT_TOKENS=200 (the tiny model may run on; a turn that ends on the cap
# is still a real, valid recording). Takes a few minutes on 2 CPU cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/scenarios/claude-code-smollm2}
MODEL=smollm2
LLAMA_PORT=${ASB_LLAMA_PORT:-18231}
REC_PORT=${ASB_RECORD_PORT:-18232}
CLAUDE=${ASB_CLAUDE_PREFIX:-$HOME/.cache/asb-claude}/bin/claude
PROMPTS=(
  "Read calc.py and say in one sentence what add() does."
  "Is there a bug in add()? Answer in one sentence."
  "Suggest a one-line fix for it."
)

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

LLAMA_URL=$(bash "$ROOT/scripts/llama-upstream.sh" start "$LLAMA_PORT" | tail -n 1)
"$ASB" record -e "$LLAMA_URL" -m "$MODEL" -o "$WORK/session.jsonl" -P "$REC_PORT" >"$WORK/record.log" 2>&1 &
REC=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$REC_PORT) 2>/dev/null && break; sleep 0.1; done

mkdir -p "$WORK/project" "$WORK/home"
cat >"$WORK/project/calc.py" <<'PY'
def add(a, b):
    """Return the sum of a and b."""
    return a - b


if __name__ == "__main__":
    print(add(2, 3))
PY

export HOME=$WORK/home ANTHROPIC_BASE_URL=http://127.0.0.1:$REC_PORT ANTHROPIC_API_KEY=dummy
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 CLAUDE_CODE_MAX_OUTPUT_TOKENS=200
CONTINUE=()
OUTCOMES=()
for prompt in "${PROMPTS[@]}"; do
  set +e
  (cd "$WORK/project" && timeout 600 "$CLAUDE" -p "$prompt" --model "$MODEL" --output-format json "${CONTINUE[@]}" </dev/null) \
    >"$WORK/turn.json" 2>>"$WORK/claude.log"
  code=$?
  set -e
  OUTCOMES+=("$code")
  echo "turn exit $code: $(head -c 300 "$WORK/turn.json")" >&2
  CONTINUE=(--continue)
done
kill -INT "$REC"; wait "$REC" || true; REC=

"$ASB" validate "$WORK/session.jsonl" >&2
mkdir -p "$OUT"
cp "$WORK/session.jsonl" "$OUT/session.jsonl"
VERSION=$("$CLAUDE" --version | cut -d' ' -f1)
CALLS=$(grep -c . "$OUT/session.jsonl")
python3 - "$OUT/scenario.json" "$VERSION" "$MODEL" "$CALLS" "${OUTCOMES[*]}" "${PROMPTS[@]}" <<'PY'
import datetime, json, sys
path, version, model, calls, outcomes, *prompts = sys.argv[1:]
json.dump({
    "name": "claude-code-smollm2",
    "description": f"A real Claude Code {version} session ({len(prompts)} prompts continued in one "
                   f"conversation, default tools) recorded against llama.cpp serving {model}: {calls} calls",
    "model": model,
    "provenance": {
        "claude_code_version": version,
        "server": "llama.cpp (xllamacpp wheel) via scripts/llama-upstream.sh",
        "model": model,
        "recorded_at": datetime.date.today().isoformat(),
        "prompts": prompts,
        "claude_exit_codes": [int(c) for c in outcomes.split()],
        "command": "bash scripts/record-claude-code.sh",
    },
    "tasks": [{"id": "fix-add", "name": "Find and fix the bug in calc.py", "recording": "session.jsonl"}],
}, open(path, "w"), indent=2)
open(path, "a").write("\n")
PY
echo "wrote $OUT ($CALLS calls)" >&2

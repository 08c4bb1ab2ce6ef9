#!/usr/bin/env bash
# Bounded soak: countersign on the embedded default, a populated directory, then mixed load at a
# fixed rate (token issuance, bearer and legacy verification, admin writes) for a fixed time.
# Reports errors (must be 0), latency percentiles and resident memory at start and end.
#
#   bench/soak.sh [SECONDS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
rate="${2:-500}"
cargo build --release -q -p countersign-cli -p countersign-bench
bin=target/release
work="$(mktemp -d)"
cleanup() { kill "${server_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
COUNTERSIGN_ADMIN_EMAIL=soak@example.com COUNTERSIGN_ADMIN_PASSWORD=soak-admin-password RUST_LOG=warn \
  "$bin/countersign" serve --listen "127.0.0.1:$port" --database "sqlite://$work/cs.db" >"$work/out" 2>"$work/err" &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
"$bin/countersign-bench" populate --server "http://127.0.0.1:$port" --admin-email soak@example.com \
  --admin-password soak-admin-password --users 100 --out "$work/creds.json"
"$bin/countersign-bench" soak --server "http://127.0.0.1:$port" --creds "$work/creds.json" \
  --admin-email soak@example.com --admin-password soak-admin-password --pid "$server_pid" \
  --rate "$rate" --seconds "$seconds" | tee bench/results/soak.txt

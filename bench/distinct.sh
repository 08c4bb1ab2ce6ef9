#!/usr/bin/env bash
# Memory under millions of distinct tokens: countersign on the embedded default with a known
# signing key, a populated directory, then TOKENS distinct valid tokens (fresh session ids for
# the populated identities) verified once each while the server's resident memory is sampled.
#
#   bench/distinct.sh [TOKENS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
tokens="${1:-2000000}"
concurrency="${2:-32}"
cargo build --release -q -p countersign-cli -p countersign-bench
bin=target/release
work="$(mktemp -d)"
cleanup() { kill "${server_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$work/signing.key"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
COUNTERSIGN_ADMIN_EMAIL=distinct@example.com COUNTERSIGN_ADMIN_PASSWORD=distinct-admin-password RUST_LOG=warn \
  "$bin/countersign" serve --listen "127.0.0.1:$port" --database "sqlite://$work/cs.db" \
  --signing-key-file "$work/signing.key" >"$work/out" 2>"$work/err" &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
"$bin/countersign-bench" populate --server "http://127.0.0.1:$port" --admin-email distinct@example.com \
  --admin-password distinct-admin-password --users 100 --out "$work/creds.json"
"$bin/countersign-bench" distinct --server "http://127.0.0.1:$port" --creds "$work/creds.json" \
  --signing-key-file "$work/signing.key" --pid "$server_pid" --tokens "$tokens" \
  --concurrency "$concurrency" | tee bench/results/distinct.txt

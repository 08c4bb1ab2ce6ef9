#!/usr/bin/env bash
# The cost of a secret-scanning leak report (SPEC §14) by its size: reports of 1, 10, 100 and
# 1,000 well-formed keys that match nothing, and of 1,000 foreign tokens, sent in turn for
# ROUNDS rounds to countersign on SQLite (no public keys configured, so reports go unsigned);
# prints the median per report and the cost per item. A benchmark, not a test: run it by hand.
#
#   bench/leaks.sh [ROUNDS]
#   PROFILE=debug bench/leaks.sh     # without a release build
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-20}"
profile="${PROFILE:-release}"
if [ "$profile" = release ]; then
  cargo build --release -q -p countersign-cli -p countersign-bench
else
  cargo build -q -p countersign-cli -p countersign-bench
fi
bin="${CARGO_TARGET_DIR:-target}/$profile"
work="$(mktemp -d)"
cleanup() { kill "${server_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
COUNTERSIGN_ADMIN_EMAIL=leaks@example.com COUNTERSIGN_ADMIN_PASSWORD=leaks-admin-password RUST_LOG=warn \
  "$bin/countersign" serve --listen "127.0.0.1:$port" --database "sqlite://$work/cs.db" >"$work/out" 2>"$work/err" &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
mkdir -p bench/results
{
  echo "profile: $profile, $(nproc) cores, SQLite"
  "$bin/countersign-bench" leaks --server "http://127.0.0.1:$port" --rounds "$rounds"
} | tee "bench/results/leaks-$profile.txt"

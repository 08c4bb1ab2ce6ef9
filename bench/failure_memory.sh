#!/usr/bin/env bash
# Failure memory (SPEC §9): ATTEMPTS failed token exchanges, each with a distinct API username of
# NAME_BYTES bytes, against countersign on the embedded default, while its resident memory is
# sampled. The source-IP threshold is lifted so every attempt is a real failure (from one address
# the IP would otherwise be throttled after 100 a minute and the names never reach the throttle).
# A benchmark, not a test: run it by hand.
#
#   bench/failure_memory.sh [ATTEMPTS] [NAME_BYTES] [CONCURRENCY]
#   PROFILE=debug bench/failure_memory.sh      # without a release build
#   CACHE_CAPACITY=1000 bench/failure_memory.sh  # shrink the directory caches (whose negative
#                                                # entries by name are also memory) to see the
#                                                # throttle's own share
set -euo pipefail
cd "$(dirname "$0")/.."
attempts="${1:-500000}"
name_bytes="${2:-1024}"
concurrency="${3:-32}"
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
cat >"$work/countersign.toml" <<TOML
[server]
cache_capacity = ${CACHE_CAPACITY:-200000}

[server.throttle]
ip_failures_per_minute = 4000000000
TOML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
COUNTERSIGN_ADMIN_EMAIL=failures@example.com COUNTERSIGN_ADMIN_PASSWORD=failures-admin-password RUST_LOG=warn \
  "$bin/countersign" serve --config "$work/countersign.toml" --listen "127.0.0.1:$port" \
  --database "sqlite://$work/cs.db" >"$work/out" 2>"$work/err" &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
echo "profile: $profile, cache_capacity ${CACHE_CAPACITY:-200000}"
"$bin/countersign-bench" failures --server "http://127.0.0.1:$port" --pid "$server_pid" \
  --attempts "$attempts" --name-bytes "$name_bytes" --concurrency "$concurrency" \
  | tee "bench/results/failure_memory-$profile-cache${CACHE_CAPACITY:-200000}.txt"

#!/usr/bin/env bash
# Bounded password work (SPEC §9): REQUESTS concurrent legacy-header requests with wrong
# passwords (each for a distinct unknown user, so no name throttle intervenes, and the source-IP
# threshold lifted, so every request either runs argon2 or is refused by the full pool) against
# countersign with default argon2id parameters, while /healthz is timed and resident memory is
# sampled. Reports the answers by (status, Retry-After), resident memory before / at most /
# after, and the /healthz median. A benchmark, not a test: run it by hand.
#
#   bench/password_burst.sh [REQUESTS]
#   PROFILE=debug bench/password_burst.sh     # without a release build
#   PASSWORD_CONCURRENCY=2 bench/password_burst.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
requests="${1:-500}"
bench_build
bench_workdir
{
  echo "[server]"
  if [ -n "${PASSWORD_CONCURRENCY:-}" ]; then echo "password_concurrency = $PASSWORD_CONCURRENCY"; fi
  echo
  echo "[server.throttle]"
  echo "ip_failures_per_minute = 4000000000"
} >"$work/countersign.toml"
bench_serve burst --config "$work/countersign.toml"
"$bin/countersign-bench" populate --server "http://127.0.0.1:$port" --admin-email burst@example.com \
  --admin-password burst-admin-password --users 2 --out "$work/creds.json" >/dev/null
echo "profile: $profile, $(nproc) cores, password_concurrency ${PASSWORD_CONCURRENCY:-default (cores)}"
"$bin/countersign-bench" burst --server "http://127.0.0.1:$port" --pid "$server_pid" \
  --creds "$work/creds.json" --requests "$requests" | tee "bench/results/password_burst-$profile.txt"

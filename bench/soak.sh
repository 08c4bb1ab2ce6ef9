#!/usr/bin/env bash
# Bounded soak: countersign on the embedded default, a populated directory, then mixed load at a
# fixed rate (token issuance, bearer and legacy verification, admin writes) for a fixed time.
# Reports errors (must be 0), latency percentiles and resident memory at start and end.
#
#   bench/soak.sh [SECONDS] [RATE]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
seconds="${1:-60}"
rate="${2:-500}"
bench_build
bench_workdir
bench_serve soak
"$bin/countersign-bench" populate --server "http://127.0.0.1:$port" --admin-email soak@example.com \
  --admin-password soak-admin-password --users 100 --out "$work/creds.json"
"$bin/countersign-bench" soak --server "http://127.0.0.1:$port" --creds "$work/creds.json" \
  --admin-email soak@example.com --admin-password soak-admin-password --pid "$server_pid" \
  --rate "$rate" --seconds "$seconds" | tee "bench/results/soak$suffix.txt"

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
source "$(dirname "$0")/lib.sh"
attempts="${1:-500000}"
name_bytes="${2:-1024}"
concurrency="${3:-32}"
bench_build
bench_workdir
cat >"$work/countersign.toml" <<TOML
[server]
cache_capacity = ${CACHE_CAPACITY:-200000}

[server.throttle]
ip_failures_per_minute = 4000000000
TOML
bench_serve failures --config "$work/countersign.toml"
echo "profile: $profile, cache_capacity ${CACHE_CAPACITY:-200000}"
"$bin/countersign-bench" failures --server "http://127.0.0.1:$port" --pid "$server_pid" \
  --attempts "$attempts" --name-bytes "$name_bytes" --concurrency "$concurrency" \
  | tee "bench/results/failure_memory-$profile-cache${CACHE_CAPACITY:-200000}.txt"

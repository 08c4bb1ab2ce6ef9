#!/usr/bin/env bash
# Memory under millions of distinct tokens: countersign on the embedded default with a known
# signing key, a populated directory, then TOKENS distinct valid tokens (fresh session ids for
# the populated identities) verified once each while the server's resident memory is sampled.
#
#   bench/distinct.sh [TOKENS] [CONCURRENCY]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tokens="${1:-2000000}"
concurrency="${2:-32}"
bench_build
bench_workdir
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$work/signing.key"
bench_serve distinct --signing-key-file "$work/signing.key"
"$bin/countersign-bench" populate --server "http://127.0.0.1:$port" --admin-email distinct@example.com \
  --admin-password distinct-admin-password --users 100 --out "$work/creds.json"
"$bin/countersign-bench" distinct --server "http://127.0.0.1:$port" --creds "$work/creds.json" \
  --signing-key-file "$work/signing.key" --pid "$server_pid" --tokens "$tokens" \
  --concurrency "$concurrency" | tee "bench/results/distinct$suffix.txt"

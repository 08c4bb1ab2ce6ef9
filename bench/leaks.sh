#!/usr/bin/env bash
# The cost of a secret-scanning leak report (SPEC §14) by its size: reports of 1, 10, 100 and
# 1,000 well-formed keys that match nothing, and of 1,000 foreign tokens, sent in turn for
# ROUNDS rounds to countersign on SQLite (no public keys configured, so reports go unsigned);
# prints the median per report and the cost per item. A benchmark, not a test: run it by hand.
#
#   bench/leaks.sh [ROUNDS]
#   PROFILE=debug bench/leaks.sh     # without a release build
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds="${1:-20}"
bench_build
bench_workdir
bench_serve leaks
mkdir -p bench/results
{
  echo "profile: $profile, $(nproc) cores, SQLite"
  "$bin/countersign-bench" leaks --server "http://127.0.0.1:$port" --rounds "$rounds"
} | tee "bench/results/leaks-$profile.txt"

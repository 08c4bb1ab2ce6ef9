#!/usr/bin/env bash
# Scale test (SPEC §10): a directory of N users (each a member of an account) and N user-scoped
# API users, then bearer verification over tokens of 10,000 distinct API users; reports verify
# latency percentiles and resident memory. Not part of the test run.
#
#   bench/scale.sh [USERS] [DATABASE_URL]      # default 1000000 users on a temporary SQLite file
#   bench/scale.sh 1000000 postgres://postgres@127.0.0.1:5432/cs_scale   # database must exist, empty
set -euo pipefail
cd "$(dirname "$0")/.."
users="${1:-1000000}"
work="$(mktemp -d)"
database="${2:-sqlite://$work/scale.db}"
cargo build --release -q -p countersign-cli -p countersign-bench
bin=target/release
cleanup() { kill "${server_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export COUNTERSIGN_DATABASE_URL="$database" COUNTERSIGN_ADMIN_EMAIL=scale@example.com COUNTERSIGN_ADMIN_PASSWORD=scale-admin-password
"$bin/countersign" init >/dev/null
start=$(date +%s)
"$bin/countersign-bench" scale-load --database "$database" --users "$users" --sample 10000 --out "$work/pairs.json"
echo "load: $(( $(date +%s) - start )) s"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
RUST_LOG=warn "$bin/countersign" serve --listen "127.0.0.1:$port" >"$work/out" 2>"$work/err" &
server_pid=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
echo "resident memory after start: $(grep VmRSS /proc/$server_pid/status)"
"$bin/countersign-bench" tokens --server "http://127.0.0.1:$port" --pairs "$work/pairs.json" --out "$work/tokens.json"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
tokens = json.load(open(f"{work}/tokens.json"))["tokens"]
body = ",\n".join('"%s"' % t for t in tokens)
open(f"{work}/bearer.lua", "w").write("tokens = { %s }\ni = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", \"/v1/verify\", {[\"Authorization\"] = \"bearer \" .. tokens[(i %% #tokens) + 1]})\nend\n" % body)
PY
echo "== saturation (32 connections)"
wrk -t2 -c32 -d30s --latency -s "$work/bearer.lua" "http://127.0.0.1:$port/v1/verify" | tee "$work/wrk.txt"
echo "== below saturation (4 connections)"
wrk -t2 -c4 -d30s --latency -s "$work/bearer.lua" "http://127.0.0.1:$port/v1/verify" | tee "$work/wrk-4.txt"
echo "resident memory after load: $(grep VmRSS /proc/$server_pid/status)"

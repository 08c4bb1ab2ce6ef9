#!/usr/bin/env bash
# Benchmark harness: one machine, one run. Builds release binaries, starts the ceiling (a plain
# axum endpoint with no authentication) and countersign on the embedded default (SQLite) with a
# populated directory, drives both with wrk on loopback, and writes bench/results/latest.{md,json}
# and bench/results/latest.svg.
#
# Each scenario runs ROUNDS rounds, each the ceiling then countersign back to back; the report
# shows the round with the median ratio and every round's ratio (the machine's noise).
#
#   bench/run.sh [DURATION_SECONDS] [CONNECTIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
connections="${2:-64}"
rounds="${3:-3}"
threads=2

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is needed: apt-get install wrk" >&2; exit 1
  fi
fi

cargo build --release -q -p countersign-cli -p countersign-bench
bin="${CARGO_TARGET_DIR:-target}/release"
work="$(mktemp -d)"
cleanup() { kill "${ceiling_pid:-}" "${server_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
ceiling_port=$(free_port)
server_port=$(free_port)

"$bin/countersign-bench" ceiling --listen "127.0.0.1:$ceiling_port" &
ceiling_pid=$!
COUNTERSIGN_ADMIN_EMAIL=bench@example.com COUNTERSIGN_ADMIN_PASSWORD=bench-admin-password \
  RUST_LOG=warn "$bin/countersign" serve --listen "127.0.0.1:$server_port" \
  --public-url "http://127.0.0.1:$server_port" \
  --database "sqlite://$work/countersign.db" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$server_port/readyz" >/dev/null && curl -sf -o /dev/null "http://127.0.0.1:$ceiling_port/v1/verify" && break
  sleep 0.1
done

"$bin/countersign-bench" populate --server "http://127.0.0.1:$server_port" \
  --admin-email bench@example.com --admin-password bench-admin-password --users 200 --out "$work/creds.json"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
creds = json.load(open(f"{work}/creds.json"))
def lua_string(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'
for script, key in [("bearer", "tokens"), ("distinct", "distinct_tokens"), ("oauth", "oauth_tokens")]:
    tokens = ",\n".join(lua_string(t) for t in creds[key])
    open(f"{work}/{script}.lua", "w").write(f"""
tokens = {{ {tokens} }}
i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/v1/verify", {{["Authorization"] = "bearer " .. tokens[(i % #tokens) + 1]}})
end
""")
for name, header in [("legacy", creds["legacy_header"]), ("sobo", creds["legacy_sobo_header"])]:
    open(f"{work}/{name}.lua", "w").write(f"""
wrk.method = "GET"
wrk.headers["X-DocuSign-Authentication"] = {lua_string(header)}
""")
body = json.dumps({"request": {"apiUsername": creds["api_username"], "key": creds["api_key"],
                               "contextUsername": creds["context_username"], "sessionLengthInMinutes": 60}})
open(f"{work}/issue.lua", "w").write(f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {lua_string(body)}
""")
PY

run() { # name script path port
  wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$work/$2.lua" "http://127.0.0.1:$4$3" >"$work/$1.txt"
}
scenarios=()
for spec in "bearer_verify:bearer:/v1/verify" "bearer_verify_1000_tokens:distinct:/v1/verify" \
            "oauth_token_verify:oauth:/v1/verify" \
            "legacy_header_verify:legacy:/v1/verify" \
            "legacy_header_sobo_verify:sobo:/v1/verify" "token_issuance:issue:/api/v3.5/authentication/apiUser"; do
  IFS=: read -r name script path <<<"$spec"
  # Warm up countersign (argon2id verification is cached after the first request).
  wrk -t1 -c4 -d1s -s "$work/$script.lua" "http://127.0.0.1:$server_port$path" >/dev/null
  ceilings=(); subjects=()
  for round in $(seq 1 "$rounds"); do
    run "ceiling_${name}_$round" "$script" "$path" "$ceiling_port"
    run "countersign_${name}_$round" "$script" "$path" "$server_port"
    ceilings+=("$work/ceiling_${name}_$round.txt"); subjects+=("$work/countersign_${name}_$round.txt")
  done
  scenarios+=(--scenario "$name=$(IFS=,; echo "${ceilings[*]}")=$(IFS=,; echo "${subjects[*]}")")
done

mkdir -p bench/results
"$bin/countersign-bench" report "${scenarios[@]}" \
  --markdown bench/results/latest.md --json bench/results/latest.json --svg bench/results/latest.svg
echo "machine: $(nproc) cores, $(uname -sr); wrk -t$threads -c$connections -d${duration}s, $rounds rounds; $(date -u +%FT%TZ)" | tee -a bench/results/latest.md
cp "$work/server.err" bench/results/server.log 2>/dev/null || true

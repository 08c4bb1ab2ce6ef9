#!/usr/bin/env bash
# API fuzzing with schemathesis against the server's own OpenAPI document.
#
#   scripts/schemathesis.sh [MAX_EXAMPLES]      (default 30 per operation)
#
# Builds the `countersign` binary, starts it on a free loopback port with a fresh SQLite database
# and a known administrator, signs in through `POST /admin/v1/login`, and runs schemathesis 4.x
# against /openapi.json with that administrator's bearer token, every check enabled, for a
# bounded number of examples per operation. Other checks (schema conformance and the like) are
# reported; the gate is the `not_a_server_error` check: the script exits 1 if any response was a
# 5xx (or schemathesis could not run), 0 otherwise. The server is stopped on exit.
#
# Environment:
#   SCHEMATHESIS_SEED     random seed (default: a fixed one, so runs are repeatable)
#   SCHEMATHESIS_WORKERS  concurrent workers (default 1: repeatable with the seed)
#   SCHEMATHESIS_PYTHON   python to create the virtual environment with (default python3)
# Reports (HAR of every request, JUnit) are written to target/schemathesis-report/.
set -euo pipefail

max_examples="${1:-30}"
seed="${SCHEMATHESIS_SEED:-20261125}"
workers="${SCHEMATHESIS_WORKERS:-1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
venv="$target_dir/schemathesis-venv"
report_dir="$target_dir/schemathesis-report"

# 1. schemathesis in its own virtual environment.
if [ ! -x "$venv/bin/schemathesis" ]; then
    "${SCHEMATHESIS_PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet 'schemathesis>=4,<5'
fi
echo "$("$venv/bin/schemathesis" --version)"

# 2. The server, on a fresh database in a temporary directory.
cargo build -p countersign-cli
binary="$target_dir/debug/countersign"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
admin_email="admin@example.com"
admin_password="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"

(
    cd "$work"
    exec env COUNTERSIGN_ADMIN_EMAIL="$admin_email" COUNTERSIGN_ADMIN_PASSWORD="$admin_password" \
        "$binary" serve --listen "127.0.0.1:$port" --database "sqlite://$work/cs.db"
) >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 100); do
    if curl -fsS "$base/healthz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server exited during start-up:" >&2; cat "$work/server.log" >&2; exit 1
    fi
    sleep 0.2
done
curl -fsS "$base/healthz" >/dev/null || { echo "the server did not come up" >&2; exit 1; }

# 3. An administrator session.
login_body="$(python3 -c 'import json, sys; print(json.dumps({"email": sys.argv[1], "password": sys.argv[2]}))' \
    "$admin_email" "$admin_password")"
token="$(curl -fsS "$base/admin/v1/login" -H 'Content-Type: application/json' -d "$login_body" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"

# 4. schemathesis, in two passes. Signing out would end the session the run depends on, so
# logout is left out. Removing an environment administrator can demote the only organization
# administrator (the stateful phase finds that link: create an environment, then remove its
# creator), after which every admin call is refused with 403; that operation therefore runs
# alone, after everything else.
rm -rf "$report_dir"
mkdir -p "$report_dir"
lockout_operation=remove_environment_admin
st_status=0
run_schemathesis() {
    local name="$1"
    shift
    echo "== schemathesis pass: $name"
    "$venv/bin/schemathesis" run "$base/openapi.json" \
        --header "Authorization: Bearer $token" \
        --max-examples "$max_examples" \
        --seed "$seed" \
        --workers "$workers" \
        --checks all \
        --continue-on-failure \
        --exclude-path /admin/v1/logout \
        --request-timeout 30 \
        --no-color \
        --report har,junit \
        --report-har-path "$report_dir/$name.har" \
        --report-junit-path "$report_dir/$name.junit.xml" \
        "$@" || {
        local status=$?
        if [ "$status" -gt "$st_status" ]; then st_status=$status; fi
    }
}
run_schemathesis main --exclude-operation-id "$lockout_operation"
run_schemathesis lockout --include-operation-id "$lockout_operation"

# A crash or a hang is worse than a 5xx: the server must still answer.
server_alive=1
if ! kill -0 "$server_pid" 2>/dev/null || ! curl -fsS --max-time 10 "$base/healthz" >/dev/null; then
    server_alive=0
    echo "the server is no longer answering after the run; log tail:" >&2
    tail -50 "$work/server.log" >&2
fi

# 5. The gate: no 5xx anywhere in the recorded traffic, no request left without an answer (a
# handler that panics drops the connection: worse than a 500, and no status code at all), no
# panic in the server log, and the server still up.
gate="$(python3 - "$report_dir" "$base" <<'EOF'
import collections, glob, json, sys
report_dir, base = sys.argv[1], sys.argv[2]
entries = []
for path in sorted(glob.glob(f"{report_dir}/*.har")):
    with open(path) as f:
        entries += json.load(f)["log"]["entries"]
def operation(entry):
    path = entry["request"]["url"].replace(base, "").split("?")[0]
    return f"{entry['request']['method']} {path}"
server_errors = [e for e in entries if e["response"]["status"] >= 500]
no_response = [e for e in entries if e["response"]["status"] == 0]
statuses = collections.Counter(e["response"]["status"] for e in entries)
print(f"recorded requests: {len(entries)}; statuses: {dict(sorted(statuses.items()))}"
      " (0 = no response)", file=sys.stderr)
for label, bad in (("5xx", server_errors), ("no response", no_response)):
    shown = set()
    for e in bad:
        body = (e["request"].get("postData") or {}).get("text", "")
        key = (operation(e), body[:80])
        if key in shown or len(shown) >= 10:
            continue
        shown.add(key)
        print(f"{label}: {e['response']['status']} {operation(e)} {body[:300]}", file=sys.stderr)
print(len(entries), len(server_errors), len(no_response))
EOF
)"
read -r recorded server_errors no_response <<<"$gate"
panics="$(grep -c 'panicked at' "$work/server.log" || true)"
if [ "$panics" != "0" ]; then
    echo "server panics: $panics; first:" >&2
    grep -m1 -A1 'panicked at' "$work/server.log" >&2
fi

echo "schemathesis exit status: $st_status (non-zero when any check failed; only the gate below fails this script)"
if [ "$recorded" = "0" ]; then
    echo "no traffic was recorded; see $report_dir" >&2
    exit 1
fi
echo "gate: $recorded requests, $server_errors with a 5xx, $no_response without a response," \
     "$panics server panics, server up: $([ "$server_alive" -eq 1 ] && echo yes || echo no)"
echo "reports: $report_dir"
if [ "$server_errors" != "0" ] || [ "$no_response" != "0" ] || [ "$panics" != "0" ] ||
   [ "$server_alive" -ne 1 ]; then
    exit 1
fi
# schemathesis failing for a reason other than a check (bad schema, network) also fails the gate.
if [ "$st_status" -ne 0 ] && [ "$st_status" -ne 1 ]; then
    echo "schemathesis did not complete (exit $st_status)" >&2
    exit 1
fi

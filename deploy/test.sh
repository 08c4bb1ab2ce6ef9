#!/usr/bin/env bash
# Exercises deploy/: builds and starts the image when a Docker daemon answers (waiting for its
# HEALTHCHECK); otherwise verifies the systemd unit with systemd-analyze (when installed) and
# runs the image's entrypoint against a countersign binary. Exit 0 only if what ran passed.
#
#   deploy/test.sh [path/to/countersign]     (default: target/debug/countersign)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-target/debug/countersign}")"
work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "deploy/test.sh: $*" >&2; exit 1; }

# Polls a command until it succeeds or the deadline (seconds) passes.
poll() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

if docker info >/dev/null 2>&1; then
  echo "== docker build -f deploy/Dockerfile"
  docker build -f deploy/Dockerfile -t countersign:deploy-test .
  id="$(docker run -d -p 127.0.0.1::8080 countersign:deploy-test)"
  trap 'docker rm -f "$id" >/dev/null 2>&1 || true; cleanup' EXIT
  healthy() { [ "$(docker inspect --format '{{.State.Health.Status}}' "$id")" = healthy ]; }
  poll 120 healthy || { docker logs "$id" >&2; fail "the container never became healthy"; }
  [ "$(docker exec "$id" id -u)" != 0 ] || fail "the container runs as root"
  docker stop -t 30 "$id" >/dev/null
  [ "$(docker inspect --format '{{.State.ExitCode}}' "$id")" = 0 ] || fail "SIGTERM did not exit 0"
  echo "docker image: built, healthy, non-root, clean stop"
  exit 0
fi
echo "no Docker daemon: checking the systemd unit and the entrypoint instead"

if command -v systemd-analyze >/dev/null 2>&1; then
  echo "== systemd-analyze verify deploy/countersign.service"
  mkdir -p "$work/unit"
  sed "s#/usr/local/bin/countersign#$bin#g" deploy/countersign.service >"$work/unit/countersign.service"
  # Unknown or misspelt settings are only warnings to systemd: fail on any output.
  if ! systemd-analyze verify "$work/unit/countersign.service" >"$work/verify" 2>&1 ||
    [ -s "$work/verify" ]; then
    cat "$work/verify" >&2
    fail "systemd-analyze verify complained about deploy/countersign.service"
  fi
else
  [ "${CI:-}" != true ] || fail "systemd-analyze is missing (apt-get install systemd)"
  echo "skipped: systemd-analyze is not installed"
fi

echo "== deploy/docker-entrypoint.sh"
mkdir -p "$work/bin" "$work/data"
ln -s "$bin" "$work/bin/countersign"
entrypoint() {
  env -i PATH="$work/bin:/usr/bin:/bin" HOME="$work" \
    COUNTERSIGN_DATABASE_URL="sqlite://$work/data/countersign.db" "$@"
}

out="$(entrypoint "$PWD/deploy/docker-entrypoint.sh" --help)"
grep -q "Usage: countersign serve" <<<"$out" || fail "a leading flag does not go to serve: $out"
out="$(entrypoint COUNTERSIGN_LISTEN=0.0.0.0:8080 "$PWD/deploy/docker-entrypoint.sh" config check)"
grep -q '^listen = "0.0.0.0:8080"' <<<"$out" || fail "subcommands do not pass through: $out"
[ ! -e "$work/data/countersign.db" ] || fail "config check created the database"

set +e
entrypoint COUNTERSIGN_ADMIN_PASSWORD=a COUNTERSIGN_ADMIN_PASSWORD_FILE=/dev/null \
  "$PWD/deploy/docker-entrypoint.sh" 2>/dev/null
[ $? -eq 64 ] || fail "both COUNTERSIGN_ADMIN_PASSWORD and _FILE were accepted"
env -i PATH="$work/bin:/usr/bin:/bin" COUNTERSIGN_DATABASE_URL="sqlite:///nonexistent/dir/cs.db" \
  "$PWD/deploy/docker-entrypoint.sh" 2>"$work/err"
[ $? -eq 73 ] && grep -q "/nonexistent/dir is not writable" "$work/err" ||
  fail "an unwritable database directory was not named"
set -e

password="entrypoint-admin-password-$$"
printf '%s\n' "$password" >"$work/admin-password"
# Started directly (not through a function), so $! is the process that becomes countersign.
env -i PATH="$work/bin:/usr/bin:/bin" HOME="$work" \
  COUNTERSIGN_DATABASE_URL="sqlite://$work/data/countersign.db" \
  COUNTERSIGN_LISTEN=127.0.0.1:0 COUNTERSIGN_ADMIN_EMAIL=ops@example.com \
  COUNTERSIGN_ADMIN_PASSWORD_FILE="$work/admin-password" \
  "$PWD/deploy/docker-entrypoint.sh" >"$work/stdout" 2>"$work/stderr" &
pid=$!
listening() { grep -q "countersign listening" "$work/stderr"; }
poll 30 listening || { cat "$work/stderr" >&2; fail "serve did not start"; }
address="$(sed -n 's/.*countersign listening address=\([0-9.:]*\).*/\1/p' "$work/stderr" | head -n1)"
[ -n "$address" ] || fail "no address in the log"
poll 10 "$bin" healthcheck --url "http://$address" || fail "healthcheck failed"
token="$(curl -sf "http://$address/admin/v1/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"ops@example.com\",\"password\":\"$password\"}" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')"
[ -n "$token" ] || fail "the administrator password from COUNTERSIGN_ADMIN_PASSWORD_FILE does not sign in"
! grep -q "$password" "$work/stdout" "$work/stderr" || fail "the administrator password was printed"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || fail "serve exited $status on SIGTERM"
echo "entrypoint: flags go to serve, subcommands pass through, password file honoured and never printed, clean stop"

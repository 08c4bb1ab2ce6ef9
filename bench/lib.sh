# What the benchmark scripts share; source it from a script in bench/ after `set -euo pipefail`.
#
#   bench_build          builds countersign and countersign-bench for the Cargo profile $PROFILE
#                        (release unless set; debug or dev: the dev build) and sets $profile,
#                        $bin and $suffix ("" for release,
#                        else "-$profile", for result file names)
#   bench_workdir        a scratch directory $work, removed (and the server stopped) on exit
#   bench_serve NAME ARG…  starts `countersign serve` on a free port on SQLite in $work, with
#                        the administrator NAME@example.com / NAME-admin-password and ARG… added;
#                        sets $port, $server_pid, $base, $admin_email and $admin_password, and
#                        waits (up to 30 s) for /readyz

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench_build() {
  profile="${PROFILE:-release}"
  # Cargo calls the debug build's profile "dev" and its directory "debug".
  local cargo_profile="$profile"
  if [ "$profile" = debug ]; then cargo_profile=dev; fi
  if [ "$profile" = dev ]; then profile=debug; fi
  cargo build --profile "$cargo_profile" -q -p countersign-cli -p countersign-bench
  bin="${CARGO_TARGET_DIR:-target}/$profile"
  # Result files of other profiles than release carry its name, so they never replace a
  # release result.
  suffix=""
  if [ "$profile" != release ]; then suffix="-$profile"; fi
}

bench_cleanup() {
  kill "${server_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}

bench_workdir() {
  work="$(mktemp -d)"
  trap bench_cleanup EXIT
}

bench_serve() {
  local name="$1"
  shift
  admin_email="$name@example.com"
  admin_password="$name-admin-password"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  base="http://127.0.0.1:$port"
  COUNTERSIGN_ADMIN_EMAIL="$admin_email" COUNTERSIGN_ADMIN_PASSWORD="$admin_password" RUST_LOG=warn \
    "$bin/countersign" serve --listen "127.0.0.1:$port" --database "sqlite://$work/cs.db" "$@" \
    >"$work/out" 2>"$work/err" &
  server_pid=$!
  for _ in $(seq 1 300); do curl -sf "$base/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "countersign did not become ready:" >&2
  cat "$work/err" >&2
  return 1
}

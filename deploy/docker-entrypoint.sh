#!/bin/sh
# Entrypoint of the countersign image.
#
#   (no arguments)        countersign serve
#   --flag …              countersign serve --flag …
#   SUBCOMMAND …          countersign SUBCOMMAND … (migrate, backup, user, config check, …)
#
# COUNTERSIGN_ADMIN_PASSWORD_FILE (e.g. a Docker secret) supplies COUNTERSIGN_ADMIN_PASSWORD,
# which only matters on the first start on an empty database. The password is never printed.
set -eu

if [ -n "${COUNTERSIGN_ADMIN_PASSWORD_FILE:-}" ]; then
  if [ -n "${COUNTERSIGN_ADMIN_PASSWORD:-}" ]; then
    echo "docker-entrypoint: set COUNTERSIGN_ADMIN_PASSWORD or COUNTERSIGN_ADMIN_PASSWORD_FILE, not both" >&2
    exit 64
  fi
  if [ ! -r "$COUNTERSIGN_ADMIN_PASSWORD_FILE" ]; then
    echo "docker-entrypoint: cannot read COUNTERSIGN_ADMIN_PASSWORD_FILE ($COUNTERSIGN_ADMIN_PASSWORD_FILE)" >&2
    exit 66
  fi
  COUNTERSIGN_ADMIN_PASSWORD="$(cat "$COUNTERSIGN_ADMIN_PASSWORD_FILE")"
  export COUNTERSIGN_ADMIN_PASSWORD
  unset COUNTERSIGN_ADMIN_PASSWORD_FILE
fi

# A SQLite database needs a writable directory (WAL files live beside it): say so plainly
# instead of failing later inside SQLite.
case "${COUNTERSIGN_DATABASE_URL:-}" in
  sqlite://*)
    database="${COUNTERSIGN_DATABASE_URL#sqlite://}"
    database="${database%%\?*}"
    directory="$(dirname "$database")"
    if [ ! -w "$directory" ]; then
      echo "docker-entrypoint: $directory is not writable by uid $(id -u); mount a volume owned by it" >&2
      exit 73
    fi
    ;;
esac

if [ "$#" -eq 0 ]; then
  set -- serve
fi
case "$1" in
  -*) set -- serve "$@" ;;
esac
exec countersign "$@"

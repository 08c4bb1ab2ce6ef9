#!/usr/bin/env bash
# Installs the official DocuSign Node.js SDK (docusign-esign, pinned with its dependencies in
# tests/sdk/node/package-lock.json) that tests/sdk/legacy_sdk.js drives against countersign.
#
# Usage: tests/sdk/node-setup.sh          # into <repo>/target/sdk-node
#        COUNTERSIGN_SDK_NODE_DIR=/x tests/sdk/node-setup.sh
#
# Idempotent: nothing is installed when the directory already holds the locked versions. The
# last line printed is the directory whose node_modules holds the SDK (COUNTERSIGN_SDK_NODE).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/../.." && pwd)"
target="${COUNTERSIGN_SDK_NODE_DIR:-${repo_root}/target/sdk-node}"

log() { echo "sdk-node-setup: $*" >&2; }

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && [ "${CI:-}" = "true" ] && command -v apt-get >/dev/null 2>&1; then
        log "node or npm missing; installing Debian's nodejs and npm (root, CI=true)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >&2
        apt-get install -y -q nodejs npm >&2
    else
        log "node and npm are needed (e.g. apt-get install -y nodejs npm)"
        exit 1
    fi
fi

mkdir -p "${target}"
if cmp -s "${script_dir}/node/package-lock.json" "${target}/package-lock.json" \
    && [ -f "${target}/node_modules/docusign-esign/package.json" ]; then
    log "${target} already holds the locked docusign-esign"
else
    cp "${script_dir}/node/package.json" "${script_dir}/node/package-lock.json" "${target}/"
    log "installing the locked docusign-esign into ${target}"
    (cd "${target}" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
node -e 'require(process.argv[1] + "/node_modules/docusign-esign")' "${target}"
echo "${target}"

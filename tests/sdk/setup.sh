#!/usr/bin/env bash
# Creates a Python virtual environment holding the public client libraries the
# tests drive against countersign:
#   - docusign-esign (the official DocuSign SDK; tests/sdk/legacy_sdk.py)
#   - pydocusign     (the older community DocuSign client; tests/sdk/legacy_sdk.py)
#   - Authlib        (an OAuth 2.0 client; tests/sdk/introspection.py introspects
#                     tokens with client_secret_basic and client_secret_post)
#
# Usage: tests/sdk/setup.sh            # venv at <repo>/target/sdk-venv
#        COUNTERSIGN_SDK_VENV=/x/venv tests/sdk/setup.sh
#
# Idempotent: if the venv already has every distribution at the pinned
# versions, nothing is installed. The last line printed is the path of the
# venv's python interpreter.
set -euo pipefail

DOCUSIGN_ESIGN_VERSION="6.1.0"
PYDOCUSIGN_VERSION="2.2"
AUTHLIB_VERSION="1.9.10"
# pydocusign's __init__ does `import pkg_resources`, which newer setuptools drop.
SETUPTOOLS_SPEC="setuptools<81"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/../.." && pwd)"
venv="${COUNTERSIGN_SDK_VENV:-${repo_root}/target/sdk-venv}"
venv_python="${venv}/bin/python"
PYTHON="${PYTHON:-python3}"

log() { echo "sdk-setup: $*" >&2; }

# True when the venv holds every distribution at the pinned versions.
# They must also import cleanly.
venv_ready() {
    [ -x "${venv_python}" ] || return 1
    "${venv_python}" - "${DOCUSIGN_ESIGN_VERSION}" "${PYDOCUSIGN_VERSION}" "${AUTHLIB_VERSION}" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
assert version("docusign-esign") == sys.argv[1]
assert version("pydocusign") == sys.argv[2]
assert version("authlib") == sys.argv[3]
import warnings
warnings.simplefilter("ignore")
import docusign_esign, pydocusign  # noqa: F401,E401
from authlib.integrations.requests_client import OAuth2Session  # noqa: F401
PY
}

if venv_ready; then
    log "venv ${venv} already has docusign-esign ${DOCUSIGN_ESIGN_VERSION}, pydocusign ${PYDOCUSIGN_VERSION} and Authlib ${AUTHLIB_VERSION}"
    echo "${venv_python}"
    exit 0
fi

command -v "${PYTHON}" >/dev/null 2>&1 || { log "${PYTHON} not found"; exit 1; }

make_venv() {
    "${PYTHON}" -m venv "${venv}"
}

if [ ! -x "${venv_python}" ] || ! "${venv_python}" -m pip --version >/dev/null 2>&1; then
    # A half-made venv (e.g. from a run that failed because ensurepip was
    # missing) is removed first, so `venv` starts clean.
    rm -rf "${venv}"
    mkdir -p "$(dirname "${venv}")"
    if ! make_venv; then
        rm -rf "${venv}"
        if [ "$(id -u)" = "0" ] && [ "${CI:-}" = "true" ] && command -v apt-get >/dev/null 2>&1; then
            log "python3 -m venv failed; installing python3-venv (root, CI=true)"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q >&2
            apt-get install -y -q python3-venv >&2
            make_venv
        else
            log "python3 -m venv failed; install python3-venv (e.g. apt-get install -y python3-venv) and re-run"
            exit 1
        fi
    fi
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
log "installing docusign-esign==${DOCUSIGN_ESIGN_VERSION} pydocusign==${PYDOCUSIGN_VERSION} Authlib==${AUTHLIB_VERSION} into ${venv}"
"${venv_python}" -m pip install -q \
    "${SETUPTOOLS_SPEC}" \
    "docusign-esign==${DOCUSIGN_ESIGN_VERSION}" \
    "pydocusign==${PYDOCUSIGN_VERSION}" \
    "authlib==${AUTHLIB_VERSION}" \
    requests >&2

if ! venv_ready; then
    log "installation finished but the venv does not have the pinned packages"
    exit 1
fi

echo "${venv_python}"

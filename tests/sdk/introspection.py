"""Introspect countersign's session tokens (SPEC §6.3) with an off-the-shelf OAuth 2.0 library.

Run with the interpreter printed by tests/sdk/setup.sh:

    PY=$(tests/sdk/setup.sh | tail -n1)
    COUNTERSIGN_URL=http://127.0.0.1:41234 CLIENT_ID=csic_... CLIENT_SECRET=csis_... \
    DELETED_CLIENT_ID=csic_... DELETED_CLIENT_SECRET=csis_... TOKEN=cst_... \
    EXPECTED_SUB=<user id> EXPECTED_USERNAME=<email> EXPECTED_CLIENT_ID=<API username> \
    "$PY" tests/sdk/introspection.py

Library: Authlib. `OAuth2Session.introspect_token(url, token=...)` posts `token=...` with the
session's `token_endpoint_auth_method`: `client_secret_basic` (the default when a secret is
given: `Authorization: Basic base64(client_id:client_secret)`) or `client_secret_post`
(`client_id` and `client_secret` form fields). `IntrospectTokenValidator` is Authlib's
resource-server validator that accepts a token only when introspection says `active`.

Prints one line per check and, last, "N passed, N failed"; exits 1 if any check failed.
"""

import os
import sys
import traceback
from importlib.metadata import version

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7662 import IntrospectTokenValidator


def env(name):
    value = os.environ.get(name)
    assert value, f"environment variable {name} must be set"
    return value


URL = env("COUNTERSIGN_URL").rstrip("/") + "/v1/introspect"
CLIENT_ID = env("CLIENT_ID")
CLIENT_SECRET = env("CLIENT_SECRET")
# The secret with its last character changed (to one it is not).
WRONG_SECRET = CLIENT_SECRET[:-1] + ("y" if CLIENT_SECRET.endswith("x") else "x")
DELETED_CLIENT_ID = env("DELETED_CLIENT_ID")
DELETED_CLIENT_SECRET = env("DELETED_CLIENT_SECRET")
TOKEN = env("TOKEN")
EXPECTED = {
    "active": True,
    "sub": env("EXPECTED_SUB"),
    "username": env("EXPECTED_USERNAME"),
    "client_id": env("EXPECTED_CLIENT_ID"),
    "token_type": "Bearer",
    "act": {"sub": env("EXPECTED_CLIENT_ID")},
}

RESULTS = []


def check(name):
    def run(fn):
        try:
            detail = fn()
        except Exception as exc:  # noqa: BLE001 - report every failure the same way
            RESULTS.append(False)
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
            traceback.print_exc(file=sys.stderr)
        else:
            RESULTS.append(True)
            print(f"ok   {name}" + (f" ({detail})" if detail else ""), flush=True)
        return fn

    return run


def session(method, client_id=CLIENT_ID, client_secret=CLIENT_SECRET):
    return OAuth2Session(client_id, client_secret, token_endpoint_auth_method=method)


def assert_describes_the_token(answer):
    for name, want in EXPECTED.items():
        assert answer.get(name) == want, f"{name} = {answer.get(name)!r}, want {want!r} in {answer}"
    assert isinstance(answer.get("exp"), int) and isinstance(answer.get("iat"), int), answer
    assert answer["exp"] > answer["iat"], answer


def assert_invalid_client(response):
    assert response.status_code == 401, f"status {response.status_code}: {response.text}"
    assert response.json().get("error") == "invalid_client", response.text
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("basic"), f"WWW-Authenticate {challenge!r}"


for method in ("client_secret_basic", "client_secret_post"):

    @check(f"introspect_token with {method} describes an active token")
    def _(method=method):
        response = session(method).introspect_token(URL, token=TOKEN)
        sent = response.request
        if method == "client_secret_basic":
            assert sent.headers.get("Authorization", "").startswith("Basic "), sent.headers
        else:
            assert "client_secret=" in (sent.body or ""), "the secret was not posted"
            assert "Authorization" not in sent.headers, sent.headers
        assert response.status_code == 200, f"status {response.status_code}: {response.text}"
        assert_describes_the_token(response.json())
        return f"sub {response.json()['sub']}"

    @check(f"introspect_token with {method} reports an unknown token inactive")
    def _(method=method):
        response = session(method).introspect_token(URL, token="cst_not-a-token")
        assert response.status_code == 200, f"status {response.status_code}: {response.text}"
        assert response.json() == {"active": False}, response.text

    @check(f"a wrong secret with {method} is invalid_client")
    def _(method=method):
        assert_invalid_client(
            session(method, client_secret=WRONG_SECRET).introspect_token(URL, token=TOKEN)
        )

    @check(f"a deleted client with {method} is invalid_client")
    def _(method=method):
        assert_invalid_client(
            session(method, DELETED_CLIENT_ID, DELETED_CLIENT_SECRET).introspect_token(URL, token=TOKEN)
        )

    @check(f"an unknown client with {method} is invalid_client")
    def _(method=method):
        assert_invalid_client(session(method, "csic_unknown").introspect_token(URL, token=TOKEN))


class CountersignValidator(IntrospectTokenValidator):
    """Authlib's resource-server validator, asking countersign about each token."""

    def introspect_token(self, token_string):
        response = session("client_secret_basic").introspect_token(URL, token=token_string)
        response.raise_for_status()
        return response.json()


@check("IntrospectTokenValidator accepts the active token")
def _():
    validator = CountersignValidator()
    token = validator.authenticate_token(TOKEN)
    validator.validate_token(token, None, None)
    return f"username {token['username']}"


@check("IntrospectTokenValidator refuses an unknown token")
def _():
    validator = CountersignValidator()
    token = validator.authenticate_token("cst_not-a-token")
    try:
        validator.validate_token(token, None, None)
    except InvalidTokenError:
        return "invalid_token"
    raise AssertionError("an inactive token was accepted")


passed = sum(RESULTS)
failed = len(RESULTS) - passed
print(f"Authlib {version('authlib')}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

"""Drive countersign's DocuSign OAuth 2.0 surface (SPEC §12) with the official Python SDK.

Run with the interpreter printed by tests/sdk/setup.sh, against a server serving TLS:

    PY=$(tests/sdk/setup.sh | tail -n1)
    COUNTERSIGN_URL=https://127.0.0.1:41234 COUNTERSIGN_CA=/path/ca.pem \
    DS_INTEGRATOR_KEY=... DS_PRIVATE_KEY_FILE=... DS_USER_ID=... DS_EMAIL=... \
    DS_ACCOUNT_GUID=... DS_ACCOUNT_NUMBER=... "$PY" tests/sdk/oauth_sdk.py jwt

docusign-esign 6.1.0 builds every OAuth URL as "https://" + oauth_host_name, so the server is
reached by its OAuth host name (host:port of COUNTERSIGN_URL) over TLS; the server's
self-signed certificate is trusted through Configuration.ssl_ca_cert (urllib3's ca_certs).

Phases:
  jwt   request_jwt_user_token, get_user_info, the token used on the API (whoami, forward
        auth with the account in the path), request_jwt_application_token, and
        get_authorization_uri (printed as "AUTHORIZATION_URI <uri>" for the caller to drive
        the sign-in and consent pages).
  code  generate_access_token with DS_CLIENT_SECRET and DS_CODE, then get_user_info with the
        token it returns.

Prints one line per check and, last, "N passed, N failed"; exits 1 if any check failed.
"""

import json
import os
import sys
import traceback
from urllib.parse import urlsplit

from docusign_esign import ApiClient, Configuration
from docusign_esign.client.api_exception import ApiException

BASE = os.environ["COUNTERSIGN_URL"].rstrip("/")
HOST = urlsplit(BASE).netloc
KEY = os.environ["DS_INTEGRATOR_KEY"]

RESULTS = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    else:
        RESULTS["failed"] += 1
        print(f"FAIL {name} {detail}")


def api_client():
    """An ApiClient for the OAuth host, trusting the server's certificate."""
    # Configuration is a process-wide singleton the ApiClient's REST client reads when built.
    Configuration().ssl_ca_cert = os.environ["COUNTERSIGN_CA"]
    client = ApiClient(oauth_host_name=HOST)
    client.host = BASE + "/restapi"
    return client


def get_json(client, path, token, headers=None):
    all_headers = {"Authorization": "Bearer " + token}
    all_headers.update(headers or {})
    response = client.rest_client.GET(BASE + path, headers=all_headers)
    return response.status, json.loads(response.data or b"null"), response


def jwt_phase():
    client = api_client()
    with open(os.environ["DS_PRIVATE_KEY_FILE"], "rb") as handle:
        private_key = handle.read()
    user_id = os.environ["DS_USER_ID"]

    token = client.request_jwt_user_token(
        client_id=KEY,
        user_id=user_id,
        oauth_host_name=HOST,
        private_key_bytes=private_key,
        expires_in=3600,
        scopes=["signature", "impersonation"],
    )
    check("request_jwt_user_token returns an access token", bool(token.access_token))
    check("token_type is Bearer", token.token_type == "Bearer", token.token_type)
    check("expires_in is 3600", str(token.expires_in) == "3600", token.expires_in)
    check("no refresh token with the JWT Grant", token.refresh_token is None)

    info = client.get_user_info(token.access_token)
    check("get_user_info: sub is the user", info.sub == user_id, info.sub)
    check("get_user_info: email", info.email == os.environ["DS_EMAIL"], info.email)
    accounts = info.accounts or []
    check("get_user_info: one account", len(accounts) == 1, len(accounts))
    if accounts:
        account = accounts[0]
        check("account_id is the account GUID", account.account_id == os.environ["DS_ACCOUNT_GUID"], account.account_id)
        check("is_default is true", str(account.is_default).lower() == "true", account.is_default)
        check("base_uri is the public URL", account.base_uri == BASE, account.base_uri)
        # What the SDK's own samples do next: base_uri + "/restapi".
        check("the API base path the SDK builds", account.base_uri + "/restapi" == client.host, client.host)

    status, whoami, _ = get_json(client, "/v1/whoami", token.access_token)
    check("whoami accepts the token", status == 200, status)
    check("whoami: oauth_jwt", whoami and whoami.get("auth_method") == "oauth_jwt", whoami)
    check("whoami: actor is the integrator key", whoami and whoami.get("actor") == KEY, whoami)
    number = os.environ["DS_ACCOUNT_NUMBER"]
    verify = client.rest_client.GET(
        BASE + "/v1/verify",
        headers={
            "Authorization": "Bearer " + token.access_token,
            "X-Original-URI": f"/restapi/v2.1/accounts/{number}/envelopes",
        },
    )
    check("forward auth with the account in the path", verify.status == 200, verify.status)
    check(
        "forward auth names the account",
        verify.getheader("X-Countersign-Account") == os.environ["DS_ACCOUNT_GUID"],
        verify.getheader("X-Countersign-Account"),
    )
    try:
        client.rest_client.GET(
            BASE + "/v1/verify",
            headers={
                "Authorization": "Bearer " + token.access_token,
                "X-Original-URI": "/restapi/v2.1/accounts/99999999/envelopes",
            },
        )
        check("another account in the path is refused", False, "answered 2xx")
    except ApiException as error:
        check("another account in the path is refused", error.status == 403, error.status)

    application = client.request_jwt_application_token(
        client_id=KEY,
        oauth_host_name=HOST,
        private_key_bytes=private_key,
        expires_in=3600,
        scopes=["signature"],
    )
    check("request_jwt_application_token returns a token", bool(application.access_token))
    status, whoami, _ = get_json(client, "/v1/whoami", application.access_token)
    check("the application token is oauth_application", whoami and whoami.get("auth_method") == "oauth_application", whoami)
    check("the application token acts for no user", whoami and "user_id" not in whoami, whoami)

    try:
        client.request_jwt_user_token(
            client_id=KEY,
            user_id="00000000-0000-4000-8000-000000000000",
            oauth_host_name=HOST,
            private_key_bytes=private_key,
            expires_in=3600,
            scopes=["signature", "impersonation"],
        )
        check("an unknown user is refused", False, "no error")
    except ApiException as error:
        body = json.loads(error.body or "{}")
        check("an unknown user is refused", error.status == 400, error.status)
        check("with invalid_grant / user_not_found", body == {"error": "invalid_grant", "error_description": "user_not_found"}, body)

    uri = client.get_authorization_uri(
        client_id=KEY,
        scopes=["signature"],
        redirect_uri=os.environ["DS_REDIRECT_URI"],
        response_type="code",
        state="sdk-state-1",
    )
    check("get_authorization_uri points at /oauth/auth", uri.startswith(f"https://{HOST}/oauth/auth?"), uri)
    print(f"AUTHORIZATION_URI {uri}")


def code_phase():
    client = api_client()
    token = client.generate_access_token(KEY, os.environ["DS_CLIENT_SECRET"], os.environ["DS_CODE"])
    check("generate_access_token returns an access token", bool(token.access_token))
    check("and a refresh token", bool(token.refresh_token))
    check("expires_in is 28800", str(token.expires_in) == "28800", token.expires_in)
    check("token_type is Bearer", token.token_type == "Bearer", token.token_type)
    info = client.get_user_info(token.access_token)
    check("get_user_info with the code's token", info.sub == os.environ["DS_USER_ID"], info.sub)
    status, whoami, _ = get_json(client, "/v1/whoami", token.access_token)
    check("the code's token is oauth_code", whoami and whoami.get("auth_method") == "oauth_code", whoami)
    try:
        client.generate_access_token(KEY, os.environ["DS_CLIENT_SECRET"], os.environ["DS_CODE"])
        check("a code is single use", False, "redeemed twice")
    except ApiException as error:
        check("a code is single use", error.status == 400, error.status)
    try:
        client.generate_access_token(KEY, "csos_wrong", "csc_whatever")
        check("a wrong client secret is refused", False, "no error")
    except ApiException as error:
        check("a wrong client secret is 401", error.status == 401, error.status)
        check("with invalid_client", json.loads(error.body or "{}").get("error") == "invalid_client", error.body)


def main():
    phase = sys.argv[1] if len(sys.argv) > 1 else "jwt"
    try:
        {"jwt": jwt_phase, "code": code_phase}[phase]()
    except Exception:  # noqa: BLE001 - report and count any failure
        traceback.print_exc()
        RESULTS["failed"] += 1
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)


if __name__ == "__main__":
    main()

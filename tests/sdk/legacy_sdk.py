"""Drive countersign's DocuSign legacy-header dialect (SPEC §5) with real client libraries.

Run with the interpreter printed by tests/sdk/setup.sh:

    PY=$(tests/sdk/setup.sh | tail -n1)
    COUNTERSIGN_URL=http://127.0.0.1:41234 DS_USERNAME=... DS_PASSWORD=... \
    DS_INTEGRATOR_KEY=... DS_EXPECTED_ACCOUNT_NUMBER=... DS_EXPECTED_ACCOUNT_GUID=... \
    DS_EXPECTED_USER_ID=... DS_EXPECTED_EMAIL=... "$PY" tests/sdk/legacy_sdk.py

Libraries:
  * docusign-esign 6.1.0 (official SDK). `AuthenticationApi.login()` sends
    GET {host}/v2.1/login_information?api_password=..&include_account_id_guid=..
    (host = "{url}/restapi"), with every default header of the ApiClient.
  * pydocusign 2.2. `DocuSignClient.login_information()` sends
    GET {root_url}/login_information (no query string) with
    X-DocuSign-Authentication = json.dumps({"Username", "Password", "IntegratorKey"}),
    parses the body only if the response Content-Type starts with "application/json",
    and sets client.account_id = loginAccounts[0].accountId and
    client.account_url = "{root_url}/accounts/{account_id}" (it ignores baseUrl).

Prints one line per check and, last, "N passed, N failed"; exits 1 if any check failed.
"""

import os

# pydocusign sends `Authorization: Bearer $DOCUSIGN_OAUTH2_TOKEN` instead of the legacy
# header when that variable is set; this test is about the legacy header only.
os.environ.pop("DOCUSIGN_OAUTH2_TOKEN", None)

import json  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from urllib.parse import urlencode, urlsplit  # noqa: E402
from xml.sax.saxutils import escape  # noqa: E402

from docusign_esign import ApiClient, AuthenticationApi  # noqa: E402
from docusign_esign.client.api_exception import ApiException  # noqa: E402


def _import_pydocusign():
    """Import pydocusign 2.2.

    Its __init__ does `import pkg_resources` only to read its own version. Python 3.11 venvs
    ship a setuptools that still has pkg_resources (and setup.sh pins setuptools<81), but
    newer setuptools drop it. If it is missing, install a minimal stand-in built on
    importlib.metadata rather than skipping the pydocusign checks.
    """
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import types
        from importlib.metadata import version

        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda name: types.SimpleNamespace(version=version(name))
        sys.modules["pkg_resources"] = shim
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pkg_resources deprecation warning
        import pydocusign
        import pydocusign.exceptions
    return pydocusign


pydocusign = _import_pydocusign()


def env(name):
    value = os.environ.get(name)
    assert value, f"environment variable {name} must be set"
    return value


URL = env("COUNTERSIGN_URL").rstrip("/")
USERNAME = env("DS_USERNAME")
PASSWORD = env("DS_PASSWORD")
INTEGRATOR_KEY = env("DS_INTEGRATOR_KEY")
ACCOUNT_NUMBER = env("DS_EXPECTED_ACCOUNT_NUMBER")
ACCOUNT_GUID = env("DS_EXPECTED_ACCOUNT_GUID")
USER_ID = env("DS_EXPECTED_USER_ID")
EMAIL = env("DS_EXPECTED_EMAIL")

RESULTS = []  # (name, ok)
STATE = {}  # values handed from one check to a later one


def check(name):
    """Decorator: run the check now, print one line, record the outcome, keep going."""

    def run(fn):
        try:
            detail = fn()
        except Exception as exc:  # noqa: BLE001 - report every failure the same way
            RESULTS.append((name, False))
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
            traceback.print_exc(file=sys.stderr)
        else:
            RESULTS.append((name, True))
            print(f"ok   {name}" + (f" ({detail})" if detail else ""), flush=True)
        return fn

    return run


# ---------------------------------------------------------------- helpers: docusign_esign


def json_header(username, password, integrator_key):
    return json.dumps({"Username": username, "Password": password, "IntegratorKey": integrator_key})


def xml_header(username, password, integrator_key):
    # Elements deliberately not in the documented order (SPEC: "XML elements in any order").
    return (
        "<DocuSignCredentials>"
        f"<IntegratorKey>{escape(integrator_key)}</IntegratorKey>"
        f"<Username>{escape(username)}</Username>"
        f"<Password>{escape(password)}</Password>"
        "</DocuSignCredentials>"
    )


def sdk_client(header_value):
    """An official-SDK client that sends `header_value` as X-DocuSign-Authentication and
    records every request it makes (method, full URL, headers) in client.sent."""
    client = ApiClient(host=f"{URL}/restapi")
    client.set_default_header("X-DocuSign-Authentication", header_value)
    client.sent = []
    pool = client.rest_client.pool_manager
    real_request = pool.request

    def recording_request(method, url, fields=None, headers=None, **kw):
        # For GET the SDK passes the query as `fields`; urllib3 urlencodes them in order.
        full = url + ("?" + urlencode(fields) if fields else "")
        client.sent.append((method, full, dict(headers or {})))
        return real_request(method, url, fields=fields, headers=headers, **kw)

    pool.request = recording_request
    return client


def last_sent(client):
    assert client.sent, "the SDK sent no request"
    method, url, _ = client.sent[-1]
    return f"{method} {url}"


def assert_login_accounts(info, api_version, want_guid=True):
    accounts = info.login_accounts
    assert accounts, f"loginAccounts is empty: {info}"
    first = accounts[0]
    assert first.account_id == ACCOUNT_NUMBER, \
        f"loginAccounts[0].accountId = {first.account_id!r}, want {ACCOUNT_NUMBER!r} (default account first)"
    assert first.account_id.isdigit(), f"accountId must be a numeric string, got {first.account_id!r}"
    # The SDK declares isDefault as `str` and converts with str(): a JSON boolean true would
    # arrive as "True", so this also checks that the server sends the string "true".
    assert first.is_default == "true", f"loginAccounts[0].isDefault = {first.is_default!r}, want 'true'"
    for a in accounts:
        assert a.is_default in ("true", "false"), f"isDefault must be 'true'/'false', got {a.is_default!r}"
    defaults = [a.account_id for a in accounts if a.is_default == "true"]
    assert defaults == [ACCOUNT_NUMBER], f"exactly one default account expected, got {defaults}"
    assert (first.user_id or "").lower() == USER_ID.lower(), f"userId = {first.user_id!r}, want {USER_ID!r}"
    assert (first.email or "").lower() == EMAIL.lower(), f"email = {first.email!r}, want {EMAIL!r}"
    if want_guid:
        assert (first.account_id_guid or "").lower() == ACCOUNT_GUID.lower(), \
            f"accountIdGuid = {first.account_id_guid!r}, want {ACCOUNT_GUID!r}"
    base = first.base_url or ""
    assert base.endswith(f"/accounts/{ACCOUNT_NUMBER}"), f"baseUrl {base!r} must end with /accounts/{ACCOUNT_NUMBER}"
    assert "/restapi/v2" in base, f"baseUrl {base!r} must contain /restapi/v2"
    assert f"/restapi/{api_version}/accounts/" in base, \
        f"baseUrl {base!r} must name the API version that was called ({api_version})"
    return first


def error_body(exc):
    body = exc.body.decode("utf-8") if isinstance(exc.body, bytes) else exc.body
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        raise AssertionError(f"error body is not JSON: {body!r}") from None


# ---------------------------------------------------------------- a. official SDK


@check("docusign_esign: login(api_password, include_account_id_guid) with JSON header")
def _():
    client = sdk_client(json_header(USERNAME, PASSWORD, INTEGRATOR_KEY))
    info = AuthenticationApi(client).login(api_password="true", include_account_id_guid="true")
    sent = last_sent(client)
    path = urlsplit(client.sent[-1][1]).path
    assert path == "/restapi/v2.1/login_information", f"SDK requested unexpected path {path!r}"
    first = assert_login_accounts(info, "v2.1")
    assert isinstance(info.api_password, str) and info.api_password, \
        f"apiPassword must be a non-empty string, got {info.api_password!r}"
    STATE["api_password"] = info.api_password
    return f"{sent} -> account {first.account_id}, baseUrl {first.base_url}"


@check("docusign_esign: API password works in place of the password")
def _():
    api_password = STATE.get("api_password")
    assert api_password, "no API password from the first login"
    client = sdk_client(json_header(USERNAME, api_password, INTEGRATOR_KEY))
    info = AuthenticationApi(client).login()
    assert_login_accounts(info, "v2.1", want_guid=False)
    assert not info.api_password, f"apiPassword returned without api_password=true: {info.api_password!r}"
    return last_sent(client)


@check("docusign_esign: a second api_password=true gives a new API password; the old one still works")
def _():
    old = STATE.get("api_password")
    assert old, "no API password from the first login"
    info = AuthenticationApi(sdk_client(json_header(USERNAME, PASSWORD, INTEGRATOR_KEY))).login(api_password="true")
    new = info.api_password
    assert isinstance(new, str) and new, f"apiPassword must be a non-empty string, got {new!r}"
    assert new != old, "the second api_password=true returned the same API password"
    for label, pw in (("new", new), ("old", old)):
        try:
            AuthenticationApi(sdk_client(json_header(USERNAME, pw, INTEGRATOR_KEY))).login()
        except ApiException as exc:
            raise AssertionError(f"{label} API password refused: {exc.status} {exc.body!r}") from None


@check("docusign_esign: login with XML header (DocuSignCredentials)")
def _():
    client = sdk_client(xml_header(USERNAME, PASSWORD, INTEGRATOR_KEY))
    info = AuthenticationApi(client).login(include_account_id_guid="true")
    first = assert_login_accounts(info, "v2.1")
    return f"{last_sent(client)} -> account {first.account_id}"


# ---------------------------------------------------------------- c. negative cases (SDK)


@check("docusign_esign: wrong password -> 401 USER_AUTHENTICATION_FAILED")
def _():
    client = sdk_client(json_header(USERNAME, PASSWORD + "-wrong", INTEGRATOR_KEY))
    try:
        AuthenticationApi(client).login()
    except ApiException as exc:
        assert exc.status == 401, f"status {exc.status}, want 401; body {exc.body!r}"
        body = error_body(exc)
        assert body.get("errorCode") == "USER_AUTHENTICATION_FAILED", f"errorCode in {body}"
        assert body.get("message"), f"error body has no message: {body}"
        ctype = (exc.headers or {}).get("Content-Type", "")
        assert ctype.lower().startswith("application/json"), f"error Content-Type {ctype!r}"
        return f"{exc.status} {body['errorCode']}"
    raise AssertionError("login with a wrong password succeeded")


@check("docusign_esign: unknown integrator key -> 401 PARTNER_AUTHENTICATION_FAILED")
def _():
    client = sdk_client(json_header(USERNAME, PASSWORD, "YDMN-00000000-0000-4000-8000-000000000000"))
    try:
        AuthenticationApi(client).login()
    except ApiException as exc:
        assert exc.status == 401, f"status {exc.status}, want 401; body {exc.body!r}"
        body = error_body(exc)
        assert body.get("errorCode") == "PARTNER_AUTHENTICATION_FAILED", f"errorCode in {body}"
        return f"{exc.status} {body['errorCode']}"
    raise AssertionError("login with an unknown integrator key succeeded")


# ---------------------------------------------------------------- b. pydocusign


def pydocusign_client(password):
    """A pydocusign client whose requests (method, URL, headers) are recorded in .sent.

    pydocusign calls the module-level requests.get/post/... looked up at call time, so the
    recorder wraps `requests.<method>` for the duration of one call (see pydocusign_call)."""
    client = pydocusign.DocuSignClient(
        root_url=f"{URL}/restapi/v2",
        username=USERNAME,
        password=password,
        integrator_key=INTEGRATOR_KEY,
    )
    client.sent = []
    return client


def pydocusign_call(client, fn):
    import requests

    real_get = requests.get

    def recording_get(url, **kw):
        response = real_get(url, **kw)
        client.sent.append(("GET", response.request.url, dict(response.request.headers), response))
        return response

    requests.get = recording_get
    try:
        return fn()
    finally:
        requests.get = real_get


@check("pydocusign: login_information() sets account_id and account_url")
def _():
    client = pydocusign_client(PASSWORD)
    data = pydocusign_call(client, client.login_information)
    assert client.sent, "pydocusign sent no request"
    method, url, headers, response = client.sent[-1]
    assert urlsplit(url).path == "/restapi/v2/login_information", f"pydocusign requested {url!r}"
    sent_header = json.loads(headers["X-DocuSign-Authentication"])
    assert set(sent_header) == {"Username", "Password", "IntegratorKey"}, f"header keys {sorted(sent_header)}"
    assert isinstance(data, dict), (
        "pydocusign did not parse the body as JSON (it only does when Content-Type starts with "
        f"'application/json'; got {response.headers.get('Content-Type')!r})"
    )
    first = data["loginAccounts"][0]
    assert client.account_id == ACCOUNT_NUMBER, f"client.account_id = {client.account_id!r}, want {ACCOUNT_NUMBER!r}"
    want_url = f"{URL}/restapi/v2/accounts/{ACCOUNT_NUMBER}"
    assert client.account_url == want_url, f"client.account_url = {client.account_url!r}, want {want_url!r}"
    assert first["isDefault"] == "true", f"isDefault = {first['isDefault']!r}, want the string 'true'"
    assert first["userId"].lower() == USER_ID.lower(), f"userId = {first['userId']!r}"
    assert first["email"].lower() == EMAIL.lower(), f"email = {first['email']!r}"
    base = first["baseUrl"]
    assert base.endswith(f"/restapi/v2/accounts/{ACCOUNT_NUMBER}"), \
        f"baseUrl {base!r} must end with /restapi/v2/accounts/{ACCOUNT_NUMBER} (v2 endpoint called)"
    assert "apiPassword" not in data, "apiPassword returned without api_password=true"
    assert "accountIdGuid" not in first, "accountIdGuid returned without include_account_id_guid=true"
    return f"{method} {url} -> account_id {client.account_id}, account_url {client.account_url}"


@check("pydocusign: wrong password raises DocuSignException with code 401")
def _():
    client = pydocusign_client(PASSWORD + "-wrong")
    try:
        pydocusign_call(client, client.login_information)
    except pydocusign.exceptions.DocuSignException as exc:
        assert "returned code 401" in str(exc), f"unexpected error: {exc}"
        assert "USER_AUTHENTICATION_FAILED" in str(exc), f"unexpected error: {exc}"
        return "401 USER_AUTHENTICATION_FAILED"
    raise AssertionError("login_information with a wrong password succeeded")


# ---------------------------------------------------------------- summary

def _dist_version(name):
    from importlib.metadata import version

    return version(name)


passed = sum(1 for _, ok in RESULTS if ok)
failed = len(RESULTS) - passed
print(f"docusign-esign {_dist_version('docusign-esign')}, pydocusign {_dist_version('pydocusign')}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

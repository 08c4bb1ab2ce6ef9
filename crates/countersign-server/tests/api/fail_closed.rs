//! Forward auth fails closed (SPEC §3, §6.1): no original URI, header or byte turns a refusal
//! into a grant. Bob belongs to MINE only; OTHER is another account of the organization. Every
//! case is sent twice with a credential the server has already verified, so both the full path
//! and the per-thread fast path answer it, for the bearer token and the legacy header alike.

use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{CreatedAccount, CreatedApiUser};
use countersign_test_support::{TestApp, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

const INTEGRATOR_KEY: &str = "3f0c7c57-3d55-4cbb-9a47-2b9d0c1f6e01";
const BOB: &str = "bob@mycompany.com";
const PASSWORD: &str = "correct horse battery";

struct World {
    app: TestApp,
    mine: String,
    mine_number: String,
    other: String,
    other_number: String,
    token: String,
    legacy: String,
}

async fn world_with(app: TestApp) -> World {
    let bob = app.create_user(BOB, Some(PASSWORD)).await;
    let mine = app.account_id.clone();
    let CreatedAccount {
        id: other,
        number: other_number,
    } = app.create_account(&app.environment_id, "Other").await;
    app.put_membership(&bob, &mine, &["send"], true).await;
    let mine_number = app.account_number(&mine).await;
    app.create_integrator_key("Integration", Some(INTEGRATOR_KEY))
        .await;
    let CreatedApiUser { key, .. } = app
        .create_api_user("OrgBot", json!({"type": "organization"}))
        .await;
    let token = app.token("OrgBot", &key, BOB).await;
    let legacy = build_header(HeaderFormat::Json, BOB, PASSWORD, INTEGRATOR_KEY, None);
    World {
        app,
        mine,
        mine_number,
        other,
        other_number,
        token,
        legacy,
    }
}

async fn world() -> World {
    world_with(spawn_app().await).await
}

/// The two credentials of Bob, as request headers.
fn credentials(w: &World) -> [(&'static str, HeaderMap); 2] {
    let mut bearer = HeaderMap::new();
    bearer.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {}", w.token)).unwrap(),
    );
    let mut legacy = HeaderMap::new();
    legacy.insert(
        "x-docusign-authentication",
        HeaderValue::from_str(&w.legacy).unwrap(),
    );
    [("bearer", bearer), ("legacy", legacy)]
}

/// `/v1/verify` with a credential and extra headers (raw bytes allowed).
async fn verify(w: &World, credential: &HeaderMap, extra: &[(&str, &[u8])]) -> reqwest::Response {
    let mut headers = credential.clone();
    for (name, value) in extra {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    w.app.get("/v1/verify").headers(headers).call().await
}

/// Sends the case twice per credential (full path, then the thread cache) after a granted
/// warm-up, and asserts each answer is a refusal in the credential's dialect.
async fn refused(w: &World, case: &str, extra: &[(&str, &[u8])]) {
    let mine = format!("/restapi/v2.1/accounts/{}/envelopes", w.mine_number);
    let agreeing: [(&str, &[u8]); 2] = [
        ("x-original-uri", mine.as_bytes()),
        ("x-forwarded-uri", mine.as_bytes()),
    ];
    for (kind, credential) in credentials(w) {
        let warm = verify(w, &credential, &agreeing).await;
        assert_eq!(warm.status(), StatusCode::OK, "{kind} warm-up for {case}");
        for attempt in 0..2 {
            let response = verify(w, &credential, extra).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{kind} {case} (attempt {attempt}) must be refused"
            );
            assert!(
                response.headers().get("x-countersign-account").is_none(),
                "{kind} {case}: a refusal carries no identity"
            );
            let body: Value = response.value().await;
            let expected = if kind == "bearer" {
                "FORBIDDEN"
            } else {
                "USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT"
            };
            assert_eq!(body["errorCode"], expected, "{kind} {case}: {body}");
        }
    }
}

/// Sends the case twice per credential and asserts it is granted in `account`.
async fn granted(w: &World, case: &str, extra: &[(&str, &[u8])], account: &str) {
    for (kind, credential) in credentials(w) {
        for attempt in 0..2 {
            let response = verify(w, &credential, extra).await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{kind} {case} (attempt {attempt}) must be granted"
            );
            assert_eq!(
                response.headers()["x-countersign-account"],
                account,
                "{kind} {case}"
            );
        }
    }
}

#[tokio::test]
async fn the_users_own_account_in_the_original_uri_is_granted() {
    let w = world().await;
    let by_number = format!("/restapi/v2/accounts/{}/envelopes?x=1", w.mine_number);
    granted(
        &w,
        "by number",
        &[("x-original-uri", by_number.as_bytes())],
        &w.mine,
    )
    .await;
    let by_id = format!("/restapi/v2.1/Accounts/{}/envelopes", w.mine);
    granted(
        &w,
        "by id",
        &[("x-forwarded-uri", by_id.as_bytes())],
        &w.mine,
    )
    .await;
    // The same URI in two headers agrees, and harmless dot segments resolve to the account.
    let dotted = format!(
        "/restapi/v2/accounts/{}/./envelopes/../envelopes",
        w.mine_number
    );
    granted(
        &w,
        "agreeing headers",
        &[
            ("x-original-uri", dotted.as_bytes()),
            ("x-forwarded-uri", dotted.as_bytes()),
        ],
        &w.mine,
    )
    .await;
}

#[tokio::test]
async fn another_account_in_the_original_uri_is_refused() {
    let w = world().await;
    let uri = format!("/restapi/v2/accounts/{}/envelopes", w.other_number);
    refused(&w, "other by number", &[("x-original-uri", uri.as_bytes())]).await;
    let uri = format!("/restapi/v2/accounts/{}/envelopes", w.other);
    refused(
        &w,
        "other by id",
        &[("x-envoy-original-path", uri.as_bytes())],
    )
    .await;
}

#[tokio::test]
async fn a_non_utf8_byte_in_the_original_uri_is_refused() {
    let w = world().await;
    let mut uri = format!("/restapi/v2/accounts/{}/envelopes?", w.other_number).into_bytes();
    uri.push(0xFF);
    refused(&w, "raw 0xFF in the query", &[("x-original-uri", &uri)]).await;
    // Even naming the user's own account, an unreadable URI is not "no account".
    let mut own = format!("/restapi/v2/accounts/{}/envelopes/", w.mine_number).into_bytes();
    own.extend_from_slice(b"\xc3(");
    refused(&w, "invalid UTF-8 in the path", &[("x-original-uri", &own)]).await;
    let encoded = format!("/restapi/v2/accounts/{}/%ff/envelopes", w.mine_number);
    refused(
        &w,
        "non-UTF-8 once decoded",
        &[("x-original-uri", encoded.as_bytes())],
    )
    .await;
}

#[tokio::test]
async fn a_client_original_uri_cannot_override_the_proxys_header() {
    let w = world().await;
    let proxy = format!("/restapi/v2.1/accounts/{}/envelopes", w.other_number);
    let client = format!("/restapi/v2.1/accounts/{}/envelopes", w.mine_number);
    // Caddy sets X-Forwarded-Uri and forwards the client's X-Original-URI untouched.
    refused(
        &w,
        "conflicting X-Original-URI and X-Forwarded-Uri",
        &[
            ("x-forwarded-uri", proxy.as_bytes()),
            ("x-original-uri", client.as_bytes()),
        ],
    )
    .await;
    refused(
        &w,
        "conflicting X-Envoy-Original-Path",
        &[
            ("x-original-uri", client.as_bytes()),
            ("x-envoy-original-path", proxy.as_bytes()),
        ],
    )
    .await;
    refused(
        &w,
        "the same header twice",
        &[
            ("x-original-uri", client.as_bytes()),
            ("x-original-uri", proxy.as_bytes()),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_configured_uri_header_is_the_only_one_read() {
    let app = spawn_app_with(|config| {
        config.forward_auth.uri_header = Some("X-Forwarded-Uri".into());
    })
    .await;
    let w = world_with(app).await;
    let mine = format!("/restapi/v2.1/accounts/{}/envelopes", w.mine_number);
    let other = format!("/restapi/v2.1/accounts/{}/envelopes", w.other_number);
    refused(
        &w,
        "trusted header names another account",
        &[
            ("x-forwarded-uri", other.as_bytes()),
            ("x-original-uri", mine.as_bytes()),
        ],
    )
    .await;
    granted(
        &w,
        "client header ignored",
        &[
            ("x-forwarded-uri", mine.as_bytes()),
            ("x-original-uri", other.as_bytes()),
        ],
        &w.mine,
    )
    .await;
}

#[tokio::test]
async fn with_a_configured_uri_header_a_request_without_it_is_refused() {
    let app = spawn_app_with(|config| {
        config.forward_auth.uri_header = Some("X-Forwarded-Uri".into());
    })
    .await;
    let w = world_with(app).await;
    let other = format!("/restapi/v2.1/accounts/{}/envelopes", w.other_number);
    refused(&w, "no original URI at all", &[]).await;
    refused(
        &w,
        "only a client's X-Original-URI",
        &[("x-original-uri", other.as_bytes())],
    )
    .await;
}

#[tokio::test]
async fn empty_account_segments_and_later_account_pairs_are_refused() {
    let w = world().await;
    let doubled = format!("/restapi/v2/accounts//{}/envelopes", w.other_number);
    refused(
        &w,
        "accounts//OTHER",
        &[("x-original-uri", doubled.as_bytes())],
    )
    .await;
    let doubled_own = format!("/restapi/v2/accounts//{}/envelopes", w.mine_number);
    refused(
        &w,
        "accounts//MINE",
        &[("x-original-uri", doubled_own.as_bytes())],
    )
    .await;
    let second_pair = format!(
        "/restapi/v2/accounts/{}/x/accounts/{}/envelopes",
        w.mine_number, w.other_number
    );
    refused(
        &w,
        "a second pair",
        &[("x-original-uri", second_pair.as_bytes())],
    )
    .await;
}

#[tokio::test]
async fn dot_segments_and_encoded_separators_are_refused() {
    let w = world().await;
    let (mine, other) = (&w.mine_number, &w.other_number);
    let cases = [
        format!("/restapi/v2/accounts/{mine}/envelopes/../../{other}/envelopes"),
        format!("/restapi/v2/accounts/{mine}/%2e%2e/{other}/envelopes"),
        format!("/restapi/v2/accounts/{mine}/..;/{other}/envelopes"),
        format!("/restapi/v2/accounts/{mine}/x//../../{other}/envelopes"),
        format!("/restapi/v2/accounts%2F{other}/envelopes"),
        format!("/restapi/v2/accounts%2f{mine}/envelopes"),
        format!("/restapi/v2/accounts/{mine}%5C..%5C{other}/x"),
        format!("/restapi/v2/accounts/{mine}%00/envelopes"),
        format!("/../restapi/v2/accounts/{mine}/envelopes"),
    ];
    for case in &cases {
        refused(&w, case, &[("x-original-uri", case.as_bytes())]).await;
    }
}

#[tokio::test]
async fn a_basic_authorization_does_not_hide_the_legacy_header() {
    let w = world().await;
    for path in ["/v1/verify", "/v1/whoami"] {
        for attempt in 0..2 {
            let response = w
                .app
                .get(path)
                .header("Authorization", "Basic dXNlcjpwYXNzd29yZA==")
                .header("X-DocuSign-Authentication", &w.legacy)
                .call()
                .await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{path} attempt {attempt}"
            );
        }
    }
    // Without the legacy header, Basic alone is no credential countersign knows.
    let response = w
        .app
        .get("/v1/verify")
        .header("Authorization", "Basic dXNlcjpwYXNzd29yZA==")
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_credential_headers_are_refused() {
    let w = world().await;
    let response = w
        .app
        .get("/v1/verify")
        .header("Authorization", format!("Bearer {}", w.token))
        .header("Authorization", format!("Bearer {}", w.token))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = w
        .app
        .get("/v1/verify")
        .header("X-DocuSign-Authentication", &w.legacy)
        .header("X-DocuSign-Authentication", &w.legacy)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let context = format!("{BOB}:{}", w.mine);
    let response = w
        .app
        .get("/v1/verify")
        .header("Authorization", format!("Bearer {}", w.token))
        .header("X-AS-UserContext", &context)
        .header("X-AS-UserContext", &context)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// Envoy's `ext_authz` HTTP service keeps the original method and appends the original path
/// and query to `/v1/verify`.
async fn envoy(
    w: &World,
    method: reqwest::Method,
    original: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = w
        .app
        .client
        .request(method, w.app.url(&format!("/v1/verify{original}")))
        .header("Authorization", format!("Bearer {}", w.token));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.call().await
}

#[tokio::test]
async fn envoy_ext_authz_requests_read_the_original_uri_from_the_path() {
    let w = world().await;
    let mine = format!(
        "/restapi/v2.1/accounts/{}/envelopes?from_date=2026-01-01",
        w.mine_number
    );
    let other = format!("/restapi/v2.1/accounts/{}/envelopes", w.other_number);
    for attempt in 0..2 {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::POST,
            reqwest::Method::DELETE,
        ] {
            let granted = envoy(&w, method.clone(), &mine, &[]).await;
            assert_eq!(
                granted.status(),
                StatusCode::OK,
                "{method} attempt {attempt}"
            );
            assert_eq!(granted.headers()["x-countersign-account"], w.mine.as_str());
            let refused = envoy(&w, method.clone(), &other, &[]).await;
            assert_eq!(
                refused.status(),
                StatusCode::FORBIDDEN,
                "{method} attempt {attempt}"
            );
        }
    }
    // The root as the original path answers like any other (full path, then thread cache).
    for attempt in 0..2 {
        let root = envoy(&w, reqwest::Method::GET, "/", &[]).await;
        assert_eq!(root.status(), StatusCode::OK, "root, attempt {attempt}");
    }
    // A client's copy of an original-URI header must agree with the path.
    let steered = envoy(
        &w,
        reqwest::Method::GET,
        &other,
        &[("X-Original-URI", &mine)],
    )
    .await;
    assert_eq!(steered.status(), StatusCode::FORBIDDEN);
    let dotted = format!(
        "/restapi/v2.1/accounts/{}/x/%2e%2e/%2e%2e/{}/envelopes",
        w.mine_number, w.other_number
    );
    assert_eq!(
        envoy(&w, reqwest::Method::GET, &dotted, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    // The plain forward-auth path still answers GET only.
    let post = w
        .app
        .post("/v1/verify")
        .header("Authorization", format!("Bearer {}", w.token))
        .call()
        .await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

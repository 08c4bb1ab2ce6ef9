//! The OAuth 2.0 JWT Grant (SPEC §12) over real HTTP: RSA keys and consent in the admin API,
//! `POST /oauth/token` and every refusal of DocuSign's table, the access token verified on
//! `/v1/verify`, `/v1/whoami` and `/v1/introspect` with the account-in-path rule, and the §3
//! re-check on the very next request after a revocation, a disabled user, a removed
//! membership or a withdrawn consent.

use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{TestApp, spawn_app};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use serde_json::{Value, json};

/// An integration set up for the JWT Grant: key, generated RSA key, a user with an account,
/// administrator consent for that user.
pub struct JwtClient {
    pub key: String,
    pub key_id: String,
    pub private_pem: String,
    pub user_id: String,
    pub account_number: String,
}

pub async fn jwt_client(app: &TestApp) -> JwtClient {
    let created = app.create_integrator_key("Signing service", None).await;
    let key = created.key.clone();
    let key_id = created.id.clone();
    let response = app
        .admin_post(
            &format!("/admin/v1/integrator-keys/{key_id}/rsa-keys"),
            json!({"generate": true}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let rsa: Value = response.value().await;
    let private_pem = rsa["private_key_pem"].as_str().unwrap().to_owned();
    assert!(private_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_eq!(rsa["fingerprint"].as_str().unwrap().len(), 64);
    let user_id = app.create_sender("signer@example.com", None).await;
    let account_number = app.account_number(&app.account_id).await;
    consent(app, &key_id, json!([user_id])).await;
    JwtClient {
        key,
        key_id,
        private_pem,
        user_id,
        account_number,
    }
}

pub async fn consent(app: &TestApp, key_id: &str, users: Value) {
    let response = app
        .admin(
            Method::PUT,
            &format!("/admin/v1/integrator-keys/{key_id}/consent"),
        )
        .json(&json!({"scopes": ["signature", "impersonation"], "user_ids": users}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// The OAuth host name of the app (host:port of its public URL).
pub fn audience(app: &TestApp) -> String {
    app.base.split_once("://").unwrap().1.to_owned()
}

/// Signs claims with RS256 and the given private key (PKCS#1 PEM).
pub fn sign(private_pem: &str, claims: &Value) -> String {
    let der = rsa::RsaPrivateKey::from_pkcs1_pem(private_pem)
        .unwrap()
        .to_pkcs1_der()
        .unwrap();
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_der(der.as_bytes()),
    )
    .unwrap()
}

/// The claims the SDKs send for a user token.
pub fn user_claims(app: &TestApp, client: &JwtClient) -> Value {
    let now = app.now().unix_timestamp();
    json!({"iss": client.key, "sub": client.user_id, "aud": audience(app), "iat": now,
        "exp": now + 3600, "scope": "signature impersonation"})
}

pub async fn token_request(app: &TestApp, assertion: &str) -> reqwest::Response {
    app.post("/oauth/token")
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ])
        .call()
        .await
}

pub async fn access_token(app: &TestApp, claims: &Value, private_pem: &str) -> String {
    let response = token_request(app, &sign(private_pem, claims)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    body["access_token"].as_str().unwrap().to_owned()
}

/// `/v1/verify` with an OAuth token and an original URI.
pub async fn verify(app: &TestApp, token: &str, uri: &str) -> reqwest::Response {
    app.get("/v1/verify")
        .header("Authorization", format!("Bearer {token}"))
        .header("X-Original-URI", uri)
        .call()
        .await
}

async fn expect_error(app: &TestApp, assertion: &str, error: &str, description: Option<&str>) {
    let response = token_request(app, assertion).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "{error} {description:?}"
    );
    let body: Value = response.value().await;
    assert_eq!(body["error"], error, "{body}");
    if let Some(description) = description {
        assert_eq!(body["error_description"], description, "{body}");
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn jwt_grant_answers_exactly_the_three_fields_and_the_token_verifies_as_oauth_jwt() {
    let app = spawn_app().await;
    let client = jwt_client(&app).await;
    let response = token_request(
        &app,
        &sign(&client.private_pem, &user_claims(&app, &client)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("no-store")
    );
    let body: Value = response.value().await;
    let fields: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(fields.len(), 3, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();

    let path = format!("/restapi/v2.1/accounts/{}/envelopes", client.account_number);
    let verified = verify(&app, token, &path).await;
    assert_eq!(verified.status(), StatusCode::OK);
    assert_eq!(
        header(&verified, "x-countersign-auth-method").as_deref(),
        Some("oauth_jwt")
    );
    assert_eq!(
        header(&verified, "x-countersign-actor").as_deref(),
        Some(client.key.as_str())
    );
    assert_eq!(
        header(&verified, "x-countersign-user-id").as_deref(),
        Some(client.user_id.as_str())
    );
    assert_eq!(
        header(&verified, "x-countersign-account").as_deref(),
        Some(app.account_id.as_str())
    );
    // Again, now from the worker thread's front cache: the same answer.
    let again = verify(&app, token, &path).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(
        header(&again, "x-countersign-auth-method").as_deref(),
        Some("oauth_jwt")
    );
    // By UUID too, and no account at all (the default).
    let by_guid = format!("/restapi/v2.1/accounts/{}/envelopes", app.account_id);
    assert_eq!(verify(&app, token, &by_guid).await.status(), StatusCode::OK);
    assert_eq!(
        verify(&app, token, "/restapi/v2.1/diagnostics")
            .await
            .status(),
        StatusCode::OK
    );
    // Another tenant's account in the path: refused in the DocuSign dialect.
    let environment = app.create_environment("Elsewhere", "sandbox").await;
    let foreign = app.create_account(&environment, "Foreign").await.number;
    let refused = verify(
        &app,
        token,
        &format!("/restapi/v2.1/accounts/{foreign}/envelopes"),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.value().await;
    assert_eq!(
        body["errorCode"],
        "USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT"
    );

    let whoami: Value = app.whoami(token, None).await.value().await;
    assert_eq!(whoami["auth_method"], "oauth_jwt");
    assert_eq!(whoami["user_id"], client.user_id.as_str());
    assert_eq!(whoami["actor"], client.key.as_str());
    assert_eq!(whoami["account_id"], app.account_id.as_str());
}

#[tokio::test]
async fn every_refusal_of_the_jwt_grant_answers_docusigns_error() {
    let app = spawn_app().await;
    let client = jwt_client(&app).await;
    let claims = user_claims(&app, &client);
    let with = |change: Value| {
        let mut changed = claims.clone();
        for (name, value) in change.as_object().unwrap() {
            if value.is_null() {
                changed.as_object_mut().unwrap().remove(name);
            } else {
                changed[name] = value.clone();
            }
        }
        sign(&client.private_pem, &changed)
    };
    // Nobody consented for this user.
    let stranger = app.create_user("stranger@example.com", None).await;
    expect_error(
        &app,
        &with(json!({"sub": stranger})),
        "consent_required",
        None,
    )
    .await;
    // Unknown, garbled and disabled users.
    let unknown = "0190c0de-0000-7000-8000-000000000000";
    expect_error(
        &app,
        &with(json!({"sub": unknown})),
        "invalid_grant",
        Some("user_not_found"),
    )
    .await;
    expect_error(
        &app,
        &with(json!({"sub": "bob@example.com"})),
        "invalid_grant",
        Some("user_not_found"),
    )
    .await;
    // Issuer and audience.
    expect_error(
        &app,
        &with(json!({"iss": "no-such-key"})),
        "invalid_grant",
        Some("issuer_not_found"),
    )
    .await;
    expect_error(
        &app,
        &with(json!({"aud": "account-d.docusign.com"})),
        "invalid_grant",
        Some("issuer_not_found"),
    )
    .await;
    expect_error(
        &app,
        &with(json!({"aud": format!("https://{}", audience(&app))})),
        "invalid_grant",
        Some("issuer_not_found"),
    )
    .await;
    // Signed by a key the integration never registered.
    let other = app.create_integrator_key("Other", None).await;
    let foreign: Value = app
        .admin_post(
            &format!("/admin/v1/integrator-keys/{}/rsa-keys", other.id.as_str()),
            json!({"generate": true}),
        )
        .await
        .value()
        .await;
    let foreign_signed = sign(foreign["private_key_pem"].as_str().unwrap(), &claims);
    expect_error(
        &app,
        &foreign_signed,
        "invalid_grant",
        Some("no_valid_keys_or_signatures"),
    )
    .await;
    // Lifetime.
    let now = app.now().unix_timestamp();
    expect_error(
        &app,
        &with(json!({"iat": now - 7200, "exp": now - 61})),
        "invalid_grant",
        Some("expired_grant"),
    )
    .await;
    expect_error(
        &app,
        &with(json!({"exp": now + 7201})),
        "invalid_grant",
        Some("invalid_lifetime"),
    )
    .await;
    // Scopes.
    expect_error(
        &app,
        &with(json!({"scope": "signature"})),
        "invalid_scope",
        None,
    )
    .await;
    expect_error(
        &app,
        &with(json!({"scope": "signature impersonation root"})),
        "invalid_scope",
        None,
    )
    .await;
    // The request itself.
    let unsupported = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ])
        .call()
        .await;
    assert_eq!(unsupported.status(), StatusCode::BAD_REQUEST);
    assert_eq!(unsupported.value().await["error"], "unsupported_grant_type");
    let missing = app
        .post("/oauth/token")
        .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")])
        .call()
        .await;
    assert_eq!(missing.value().await["error"], "invalid_request");
    let repeated = app
        .post("/oauth/token")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=a&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")
        .call()
        .await;
    assert_eq!(repeated.value().await["error"], "invalid_request");
    let mut oversized = claims.clone();
    oversized["padding"] = json!("x".repeat(9 * 1024));
    expect_error(
        &app,
        &sign(&client.private_pem, &oversized),
        "invalid_request",
        None,
    )
    .await;
    let json_body = app
        .post("/oauth/token")
        .json(&json!({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}))
        .call()
        .await;
    assert_eq!(json_body.value().await["error"], "invalid_request");
    // A revoked key is an unknown issuer; and then nothing issued under it works.
    let token = access_token(&app, &claims, &client.private_pem).await;
    let revoked = app
        .admin_post(
            &format!("/admin/v1/integrator-keys/{}/revoke", client.key_id),
            json!({}),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    expect_error(
        &app,
        &sign(&client.private_pem, &claims),
        "invalid_grant",
        Some("issuer_not_found"),
    )
    .await;
    assert_eq!(
        verify(&app, &token, "/restapi/v2.1/diagnostics")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

mod tokens;

/// An issuer or subject no record can have (a NUL, which PostgreSQL cannot even compare) is
/// refused as unknown, never a store failure.
#[tokio::test]
async fn an_issuer_or_subject_with_a_nul_is_refused_as_unknown() {
    let app = spawn_app().await;
    let client = jwt_client(&app).await;
    let mut claims = user_claims(&app, &client);
    claims["iss"] = json!(format!("{}\u{0}", client.key));
    let response = token_request(&app, &sign(&client.private_pem, &claims)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let mut claims = user_claims(&app, &client);
    claims["sub"] = json!("bob\u{0}@example.com");
    let response = token_request(&app, &sign(&client.private_pem, &claims)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

//! A real countersign server plus the verify crate on the same database: tokens it issues are
//! accepted in-process, and a revocation made through the server is honoured.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use countersign_test_support::CreatedApiUser;
use countersign_test_support::TestApp;
use countersign_test_support::spawn_app;
use countersign_test_support::{Call as _, Read as _};
use countersign_verify::{
    AuthMethod, HeaderText, Identity, Verified, Verifier, VerifyError, VerifyLayer, VerifyRequest,
};
use serde_json::json;
use std::time::Duration;

#[derive(Clone, FromRef)]
struct State {
    verifier: Verifier,
}

/// What a node answers on `/v1/verify` for the same request: status and body.
async fn node_answer(
    app: &TestApp,
    headers: &[(&str, &str)],
    original_uri: &str,
) -> (u16, serde_json::Value) {
    let mut request = app.get("/v1/verify").header("X-Original-URI", original_uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.call().await;
    let status = response.status().as_u16();
    (status, response.value().await)
}

/// The in-process refusal equals the node's: the same body, and the same status but for the
/// forward-auth rule that turns a 400 into a 403 for proxies (SPEC §6.1).
fn assert_same_refusal(case: &str, local: &VerifyError, node: &(u16, serde_json::Value)) {
    assert_eq!(&local.body(), &node.1, "{case}: body");
    let forward_auth = if local.status() == 400 {
        403
    } else {
        local.status()
    };
    assert_eq!(forward_auth, node.0, "{case}: status");
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

#[tokio::test]
async fn embedded_verifier_accepts_issued_tokens_and_honours_revocation() {
    let app = spawn_app().await;
    app.create_sender("bob@example.com", None).await;
    let account = app.account_id.clone();
    let CreatedApiUser { id: api_user, key } = app
        .create_api_user("embedded", json!({"type": "organization"}))
        .await;
    let token = app.token("embedded", &key, "bob@example.com").await;
    let verifier = Verifier::connect(&app.database_url, None).await.unwrap();

    let identity = verifier
        .verify(VerifyRequest {
            authorization: HeaderText::Text(&format!("Bearer {token}")),
            user_context: HeaderText::Absent,
            path: None,
        })
        .await
        .unwrap();
    assert_eq!(identity.user_email.as_deref(), Some("bob@example.com"));
    assert_eq!(
        identity.account_id.map(|a| a.to_string()),
        Some(account.clone())
    );
    assert_eq!(identity.actor, "embedded");
    assert_eq!(identity.auth_method, AuthMethod::ApiUserToken);

    // The extractor and the layer in a service.
    let handler =
        |Verified(identity): Verified| async move { identity.user_email.unwrap_or_default() };
    let layered = |axum::Extension(identity): axum::Extension<Identity>| async move {
        identity.account_number.unwrap_or_default()
    };
    let router = Router::new()
        .route("/extractor", get(handler))
        .with_state(State {
            verifier: verifier.clone(),
        })
        .merge(
            Router::new()
                .route("/layer/accounts/{id}/x", get(layered))
                .layer(VerifyLayer::new(verifier.clone())),
        );
    let base = serve(router).await;
    let client = reqwest::Client::new();
    let ok = client
        .get(format!("{base}/extractor"))
        .bearer_auth(&token)
        .call()
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.body().await, "bob@example.com");
    let none = client.get(format!("{base}/extractor")).call().await;
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let own = client
        .get(format!("{base}/layer/accounts/{account}/x"))
        .bearer_auth(&token)
        .call()
        .await;
    assert_eq!(own.status(), 200);
    let foreign = client
        .get(format!("{base}/layer/accounts/99999999/x"))
        .bearer_auth(&token)
        .call()
        .await;
    assert_eq!(
        foreign.status(),
        403,
        "an account in the path the user may not use"
    );

    // Headers are read as a node reads them: a repeated or non-text one is refused.
    let repeated_context = client
        .get(format!("{base}/extractor"))
        .bearer_auth(&token)
        .header("X-AS-UserContext", "bob@example.com:1")
        .header("X-AS-UserContext", "bob@example.com:2")
        .call()
        .await;
    assert_eq!(repeated_context.status(), 400);
    let body: serde_json::Value = repeated_context.value().await;
    assert_eq!(body["details"], json!(["'X-AS-UserContext' is invalid."]));
    let repeated_authorization = client
        .get(format!("{base}/extractor"))
        .bearer_auth(&token)
        .bearer_auth(&token)
        .call()
        .await;
    assert_eq!(repeated_authorization.status(), 401);

    // Every refusal is the one a node answers, in its table.
    let bearer = format!("Bearer {token}");
    let long_context = format!("bob@example.com:{}", "1".repeat(600));
    let foreign_path = "/restapi/accounts/99999999/x";
    for (case, authorization, user_context, path) in [
        ("no token", HeaderText::Absent, HeaderText::Absent, "/x"),
        (
            "another scheme",
            HeaderText::Text("Basic eDp5"),
            HeaderText::Absent,
            "/x",
        ),
        (
            "a bearer scheme without a token",
            HeaderText::Text("Bearer"),
            HeaderText::Absent,
            "/x",
        ),
        (
            "a scheme run into the token",
            HeaderText::Text("Bearercst_x"),
            HeaderText::Absent,
            "/x",
        ),
        (
            "a forged token and an unreadable context",
            HeaderText::Text("Bearer cst_forged"),
            HeaderText::Text(&long_context),
            "/x",
        ),
        (
            "a forged token",
            HeaderText::Text("Bearer cst_forged"),
            HeaderText::Absent,
            "/x",
        ),
        (
            "another account",
            HeaderText::Text(&bearer),
            HeaderText::Absent,
            foreign_path,
        ),
        (
            "a context naming another user",
            HeaderText::Text(&bearer),
            HeaderText::Text("alice@example.com:1"),
            "/x",
        ),
    ] {
        let local = verifier
            .verify(VerifyRequest {
                authorization,
                user_context,
                path: Some(path),
            })
            .await
            .unwrap_err();
        let mut headers = Vec::new();
        if let HeaderText::Text(value) = authorization {
            headers.push(("Authorization", value));
        }
        if let HeaderText::Text(value) = user_context {
            headers.push(("X-AS-UserContext", value));
        }
        assert_same_refusal(case, &local, &node_answer(&app, &headers, path).await);
    }

    // A revocation through the server reaches the embedded verifier within its re-check.
    app.admin_post(&format!("/admin/v1/api-users/{api_user}/revoke"), json!({}))
        .await;
    let refused = app
        .eventually(Duration::from_secs(3), || async {
            client
                .get(format!("{base}/extractor"))
                .bearer_auth(&token)
                .call()
                .await
                .status()
                == 401
        })
        .await;
    assert!(refused, "revoked token refused in-process");
}

#[tokio::test]
async fn embedded_verifier_accepts_oauth_access_tokens_and_honours_key_revocation() {
    use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
    let app = spawn_app().await;
    let bob = app.create_sender("bob@example.com", None).await;
    let created = app.create_integrator_key("Service", None).await;
    let key_id = created.id.as_str();
    let key = created.key.as_str();
    let rsa: serde_json::Value = app
        .admin_post(
            &format!("/admin/v1/integrator-keys/{key_id}/rsa-keys"),
            json!({"generate": true}),
        )
        .await
        .value()
        .await;
    app.admin(
        reqwest::Method::PUT,
        &format!("/admin/v1/integrator-keys/{key_id}/consent"),
    )
    .json(&json!({"scopes": ["signature", "impersonation"], "user_ids": "all"}))
    .call()
    .await;
    let der = rsa::RsaPrivateKey::from_pkcs1_pem(rsa["private_key_pem"].as_str().unwrap())
        .unwrap()
        .to_pkcs1_der()
        .unwrap();
    let now = app.now().unix_timestamp();
    let assertion = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({"iss": key, "sub": bob, "aud": app.base.split_once("://").unwrap().1,
            "iat": now, "exp": now + 3600, "scope": "signature impersonation"}),
        &jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
    )
    .unwrap();
    let answer: serde_json::Value = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ])
        .call()
        .await
        .value()
        .await;
    let token = answer["access_token"].as_str().unwrap().to_owned();
    let verifier = Verifier::connect(&app.database_url, None).await.unwrap();
    let request = |path: &'static str| VerifyRequest {
        authorization: HeaderText::Absent,
        user_context: HeaderText::Absent,
        path: Some(path),
    };
    let authorization = format!("Bearer {token}");
    let identity = verifier
        .verify(VerifyRequest {
            authorization: HeaderText::Text(&authorization),
            ..request("/restapi/v2.1/diagnostics")
        })
        .await
        .unwrap();
    assert_eq!(identity.auth_method, AuthMethod::OauthJwt);
    assert_eq!(identity.user_id.map(|u| u.to_string()), Some(bob.clone()));
    assert_eq!(identity.actor, key);
    assert_eq!(identity.api_user_id, None);
    // Refused in the DocuSign dialect, as a node refuses an OAuth access token.
    let foreign_path = "/restapi/v2.1/accounts/99999999/envelopes";
    let foreign = verifier
        .verify(VerifyRequest {
            authorization: HeaderText::Text(&authorization),
            ..request(foreign_path)
        })
        .await
        .unwrap_err();
    assert_eq!(foreign.status(), 400);
    assert_eq!(
        foreign.body()["errorCode"],
        "USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT"
    );
    let node = node_answer(&app, &[("Authorization", &authorization)], foreign_path).await;
    assert_same_refusal("OAuth token, another account", &foreign, &node);
    let forged = verifier
        .verify(VerifyRequest {
            authorization: HeaderText::Text("Bearer cso_forged"),
            ..request("/restapi/v2.1/diagnostics")
        })
        .await
        .unwrap_err();
    let node = node_answer(
        &app,
        &[("Authorization", "Bearer cso_forged")],
        "/restapi/v2.1/diagnostics",
    )
    .await;
    assert_same_refusal("a forged OAuth token", &forged, &node);
    assert_eq!(
        forged.www_authenticate(),
        Some("Bearer realm=\"countersign\", error=\"invalid_token\"")
    );
    app.admin_post(
        &format!("/admin/v1/integrator-keys/{key_id}/revoke"),
        json!({}),
    )
    .await;
    let refused = app
        .eventually(Duration::from_secs(3), || async {
            verifier
                .verify(VerifyRequest {
                    authorization: HeaderText::Text(&authorization),
                    ..request("/restapi/v2.1/diagnostics")
                })
                .await
                .is_err_and(|e| e.status() == 401)
        })
        .await;
    assert!(
        refused,
        "a token of a revoked integrator key is refused in-process"
    );
}

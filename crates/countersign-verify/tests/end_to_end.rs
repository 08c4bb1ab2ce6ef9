//! A real countersign server plus the verify crate on the same database: tokens it issues are
//! accepted in-process, and a revocation made through the server is honoured.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use countersign_test_support::CreatedApiUser;
use countersign_test_support::spawn_app;
use countersign_verify::{Identity, Verified, Verifier, VerifyLayer, VerifyRequest};
use serde_json::json;
use std::time::Duration;

#[derive(Clone, FromRef)]
struct State {
    verifier: Verifier,
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
    let bob = app.create_user("bob@example.com", None).await;
    let account = app.account_id.clone();
    app.put_membership(&bob, &account, &["send"], true).await;
    let CreatedApiUser { id: api_user, key } = app
        .create_api_user("embedded", json!({"type": "organization"}))
        .await;
    let token = app.token("embedded", &key, "bob@example.com").await;
    let verifier = Verifier::connect(&app.database_url, None).await.unwrap();

    let identity = verifier
        .verify(VerifyRequest {
            authorization: Some(&format!("Bearer {token}")),
            user_context: None,
            path: None,
        })
        .await
        .unwrap();
    assert_eq!(identity.user_email, "bob@example.com");
    assert_eq!(identity.account_id.to_string(), account);
    assert_eq!(identity.actor, "embedded");

    // The extractor and the layer in a service.
    let handler = |Verified(identity): Verified| async move { identity.user_email };
    let layered = |axum::Extension(identity): axum::Extension<Identity>| async move {
        identity.account_number
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
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "bob@example.com");
    let none = client
        .get(format!("{base}/extractor"))
        .send()
        .await
        .unwrap();
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
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let foreign = client
        .get(format!("{base}/layer/accounts/99999999/x"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        foreign.status(),
        403,
        "an account in the path the user may not use"
    );

    // A revocation through the server reaches the embedded verifier within its re-check.
    app.admin_post(&format!("/admin/v1/api-users/{api_user}/revoke"), json!({}))
        .await;
    let refused = app
        .eventually(Duration::from_secs(3), || async {
            client
                .get(format!("{base}/extractor"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status()
                == 401
        })
        .await;
    assert!(refused, "revoked token refused in-process");
}

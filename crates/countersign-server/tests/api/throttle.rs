//! Throttling of repeated failures per API username, user, integrator key and source IP, each
//! with its reset.

use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::CreatedApiUser;
use countersign_test_support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app, spawn_app_with};
use countersign_test_support::{Call as _, Read as _};
use reqwest::StatusCode;
use serde_json::json;

async fn with_bob(app: &TestApp) -> String {
    app.create_sender("bob@example.com", Some("bobs-password"))
        .await
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn hammered_api_username_is_throttled_and_its_owner_gets_in_after_the_window() {
    let app = spawn_app_with(|c| c.throttle.ip_failures_per_minute = 10_000).await;
    with_bob(&app).await;
    let CreatedApiUser { key, .. } = app
        .create_api_user("Target", json!({"type": "organization"}))
        .await;
    for _ in 0..10 {
        assert_eq!(
            app.exchange("Target", "csk_wrong", "bob@example.com")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let response = app.exchange("target", &key, "bob@example.com").await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right key waits out the back-off"
    );
    assert!(retry_after(&response) >= 1);
    assert_eq!(response.value().await["errorCode"], "TOO_MANY_REQUESTS");
    // Attempts during the back-off are not verified and do not extend it.
    for _ in 0..20 {
        app.exchange("Target", "csk_wrong", "bob@example.com").await;
    }
    app.advance(time::Duration::seconds(2));
    assert_eq!(
        app.exchange("Target", &key, "bob@example.com")
            .await
            .status(),
        StatusCode::OK,
        "owner gets in after the window"
    );
    // The success reset the count: nine new failures do not throttle.
    for _ in 0..9 {
        app.exchange("Target", "csk_wrong", "bob@example.com").await;
    }
    assert_eq!(
        app.exchange("Target", &key, "bob@example.com")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn source_ip_is_throttled_after_a_hundred_failures_in_a_minute() {
    let app = spawn_app().await;
    with_bob(&app).await;
    let CreatedApiUser { key, .. } = app
        .create_api_user("Innocent", json!({"type": "organization"}))
        .await;
    for i in 0..100 {
        app.exchange(&format!("nobody-{i}"), "csk_wrong", "bob@example.com")
            .await;
    }
    let response = app.exchange("Innocent", &key, "bob@example.com").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let token_check = app.verify("cst_garbage", None).await;
    assert_eq!(
        token_check.status(),
        StatusCode::FORBIDDEN,
        "forward auth answers 403 with Retry-After"
    );
    assert!(retry_after(&token_check) >= 1);
    assert_eq!(token_check.value().await["errorCode"], "TOO_MANY_REQUESTS");
    app.advance(time::Duration::seconds(2));
    assert_eq!(
        app.exchange("Innocent", &key, "bob@example.com")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn invalid_bearer_tokens_count_against_the_source_ip() {
    let app = spawn_app().await;
    for _ in 0..100 {
        assert_eq!(
            app.verify("cst_garbage", None).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.verify("cst_garbage", None).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn legacy_user_is_throttled_in_the_docusign_dialect() {
    let app = spawn_app_with(|c| c.throttle.ip_failures_per_minute = 10_000).await;
    with_bob(&app).await;
    let key = app.create_integrator_key("k", None).await;
    let key = key.key.as_str();
    let wrong = build_header(
        HeaderFormat::Json,
        "bob@example.com",
        "wrong-password",
        key,
        None,
    );
    for _ in 0..10 {
        let response = app
            .get("/restapi/v2/login_information")
            .header("X-DocuSign-Authentication", &wrong)
            .call()
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let right = build_header(
        HeaderFormat::Json,
        "BOB@example.com",
        "bobs-password",
        key,
        None,
    );
    let response = app
        .get("/restapi/v2/login_information")
        .header("X-DocuSign-Authentication", &right)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&response) >= 1);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert!(response.value().await["errorCode"].is_string());
    let verify = app.verify_legacy(&right).await;
    assert_eq!(verify.status(), StatusCode::FORBIDDEN);
    assert!(verify.headers().contains_key("retry-after"));
    app.advance(time::Duration::seconds(2));
    let response = app
        .get("/restapi/v2/login_information")
        .header("X-DocuSign-Authentication", &right)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn integrator_key_is_throttled_after_its_threshold() {
    let app = spawn_app_with(|c| {
        c.throttle.ip_failures_per_minute = 10_000;
        c.throttle.integrator_key_failures = 20;
    })
    .await;
    with_bob(&app).await;
    let key = app.create_integrator_key("k", None).await;
    let key = key.key.as_str();
    for i in 0..20 {
        let header = build_header(
            HeaderFormat::Json,
            &format!("user{i}@example.com"),
            "x",
            key,
            None,
        );
        app.verify_legacy(header).await;
    }
    let right = build_header(
        HeaderFormat::Json,
        "bob@example.com",
        "bobs-password",
        key,
        None,
    );
    let response = app
        .get("/restapi/v2/login_information")
        .header("X-DocuSign-Authentication", &right)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    app.advance(time::Duration::seconds(2));
    let response = app
        .get("/restapi/v2/login_information")
        .header("X-DocuSign-Authentication", &right)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn admin_sign_in_is_throttled_with_problem_json() {
    let app = spawn_app_with(|c| c.throttle.ip_failures_per_minute = 10_000).await;
    for _ in 0..10 {
        assert!(app.login(ADMIN_EMAIL, "wrong-password").await.is_none());
    }
    let response = app
        .post("/admin/v1/login")
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&response) >= 1);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.value().await["code"], "too_many_requests");
    app.advance(time::Duration::seconds(2));
    assert!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.is_some());
}

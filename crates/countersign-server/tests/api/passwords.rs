//! The bounded password pool (SPEC §9): when every place in it is taken, a request that needs an
//! argon2 verification is refused at once with the throttle answer (429, 403 on forward auth,
//! `Retry-After: 1`); verified credentials in the cache and every other request go on as usual,
//! and the refusal counts as no failure. Places are held through the pool's own API, so the
//! saturation is exact, not a race.

use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app_with};
use countersign_test_support::{Call as _, Read as _};
use reqwest::StatusCode;
use serde_json::json;

/// A server whose pool runs one verification and queues none.
async fn spawn_tiny_pool() -> TestApp {
    spawn_app_with(|c| {
        c.password_concurrency = Some(1);
        c.password_queue = Some(0);
    })
    .await
}

/// Bob (a member with a password) and an integrator key; returns the key.
async fn bob_and_key(app: &TestApp) -> String {
    app.create_sender("bob@example.com", Some("bobs-password"))
        .await;
    let key = app.create_integrator_key("k", None).await;
    key.key.clone()
}

async fn legacy(app: &TestApp, path: &str, header: &str) -> reqwest::Response {
    app.get(path)
        .header("X-DocuSign-Authentication", header)
        .call()
        .await
}

fn assert_retry_after_one(response: &reqwest::Response) {
    assert_eq!(response.headers()["retry-after"], "1");
}

#[tokio::test]
async fn legacy_header_is_refused_with_429_and_retry_after_1_while_the_pool_is_full() {
    let app = spawn_tiny_pool().await;
    let key = bob_and_key(&app).await;
    let header = build_header(
        HeaderFormat::Json,
        "bob@example.com",
        "bobs-password",
        &key,
        None,
    );
    let held = app.server().state().passwords.try_reserve().unwrap();
    assert!(
        app.server().state().passwords.try_reserve().is_err(),
        "one place, taken"
    );
    let response = legacy(&app, "/restapi/v2/login_information", &header).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_retry_after_one(&response);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert!(response.value().await["errorCode"].is_string());
    let verify = legacy(&app, "/v1/verify", &header).await;
    assert_eq!(verify.status(), StatusCode::FORBIDDEN);
    assert_retry_after_one(&verify);
    let whoami = legacy(&app, "/v1/whoami", &header).await;
    assert_eq!(whoami.status(), StatusCode::FORBIDDEN);
    assert_retry_after_one(&whoami);
    assert_eq!(app.get("/healthz").call().await.status(), StatusCode::OK);
    drop(held);
    let response = legacy(&app, "/restapi/v2/login_information", &header).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the refusals were no failures"
    );
}

#[tokio::test]
async fn verified_legacy_credentials_in_the_cache_pass_while_the_pool_is_full() {
    let app = spawn_tiny_pool().await;
    let key = bob_and_key(&app).await;
    let header = build_header(
        HeaderFormat::Json,
        "bob@example.com",
        "bobs-password",
        &key,
        None,
    );
    assert_eq!(
        legacy(&app, "/restapi/v2/login_information", &header)
            .await
            .status(),
        StatusCode::OK
    );
    let _held = app.server().state().passwords.try_reserve().unwrap();
    assert_eq!(
        legacy(&app, "/restapi/v2/login_information", &header)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        legacy(&app, "/v1/verify", &header).await.status(),
        StatusCode::OK
    );
    let wrong = build_header(
        HeaderFormat::Json,
        "bob@example.com",
        "not-bobs-password",
        &key,
        None,
    );
    let refused = legacy(&app, "/restapi/v2/login_information", &wrong).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_retry_after_one(&refused);
}

#[tokio::test]
async fn admin_sign_in_is_refused_with_429_problem_json_while_the_pool_is_full() {
    let app = spawn_tiny_pool().await;
    let held = app.server().state().passwords.try_reserve().unwrap();
    let response = app
        .post("/admin/v1/login")
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_retry_after_one(&response);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.value().await["code"], "too_many_requests");
    drop(held);
    assert!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.is_some());
}

#[tokio::test]
async fn a_waiting_verification_runs_when_a_turn_frees() {
    // One running, one waiting: a request queued behind a held turn is answered once the
    // turn is released, not refused.
    let app = spawn_app_with(|c| {
        c.password_concurrency = Some(1);
        c.password_queue = Some(1);
    })
    .await;
    let pool = &app.server().state().passwords;
    let running = pool.try_reserve().unwrap();
    let turn = running.turn().await.unwrap();
    let login = app.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    let release = async {
        // Released once the request has taken the place in the queue.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while pool.pool().in_use() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the request never queued"
            );
            tokio::task::yield_now().await;
        }
        assert!(pool.try_reserve().is_err(), "running and queue are full");
        drop(turn);
    };
    let (token, ()) = tokio::join!(login, release);
    assert!(token.is_some());
}

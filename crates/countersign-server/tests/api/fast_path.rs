//! The forward-auth fast path (per-worker-thread caches of verified credentials): a repeated
//! credential is answered from cache exactly as the full path would answer it, and every change
//! of the directory, the clock or the throttle reaches it on the next request, on every thread.

use countersign_test_support::CreatedApiUser;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{TestApp, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// An organization-scope API user and a token it was issued to act as Bob.
struct Issued {
    api_user_id: String,
    token: String,
}

async fn with_token(app: &TestApp) -> Issued {
    app.create_sender("bob@example.com", None).await;
    let CreatedApiUser { id, key } = app
        .create_api_user("bot", json!({"type": "organization"}))
        .await;
    Issued {
        api_user_id: id,
        token: app.token("bot", &key, "bob@example.com").await,
    }
}

fn identity(response: &reqwest::Response) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-countersign-"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    headers
}

#[tokio::test]
async fn repeated_verifications_answer_the_same_identity_headers() {
    let app = spawn_app().await;
    let Issued { token, .. } = with_token(&app).await;
    let first = app.verify(&token, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let expected = identity(&first);
    assert_eq!(expected.len(), 8, "{expected:?}");
    for _ in 0..5 {
        let again = app.verify(&token, None).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(identity(&again), expected);
        assert!(again.headers().contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn a_repeated_token_is_refused_once_its_session_ends() {
    let app = spawn_app().await;
    let Issued { token, .. } = with_token(&app).await;
    for _ in 0..3 {
        assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);
    }
    app.advance(time::Duration::minutes(61));
    let response = app.verify(&token, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.value().await["errorCode"], "UNAUTHORIZED");
}

#[tokio::test]
async fn a_repeated_token_is_refused_while_its_address_is_throttled() {
    let app = spawn_app().await;
    let Issued { token, .. } = with_token(&app).await;
    for _ in 0..3 {
        assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);
    }
    for _ in 0..100 {
        app.verify("cst_garbage", None).await;
    }
    let response = app.verify(&token, None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.value().await["errorCode"], "TOO_MANY_REQUESTS");
    app.advance(time::Duration::seconds(2));
    assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_every_worker_thread_at_once() {
    let app = Arc::new(spawn_app().await);
    let Issued {
        api_user_id: id,
        token,
    } = with_token(&app).await;
    let token = Arc::new(token);
    let concurrently = |expected: StatusCode| {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let (app, token) = (app.clone(), token.clone());
            tasks.spawn(async move {
                assert_eq!(app.verify(&token, None).await.status(), expected);
            });
        }
        tasks
    };
    concurrently(StatusCode::OK).join_all().await;
    let revoked = app
        .admin_post(&format!("/admin/v1/api-users/{id}/revoke"), json!({}))
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    concurrently(StatusCode::UNAUTHORIZED).join_all().await;
}

#[tokio::test]
async fn without_thread_caches_verification_answers_the_same() {
    let app = spawn_app_with(|config| config.thread_cache_capacity = 0).await;
    let Issued {
        api_user_id: id,
        token,
    } = with_token(&app).await;
    let first = app.verify(&token, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let expected = identity(&first);
    assert_eq!(identity(&app.verify(&token, None).await), expected);
    app.admin_post(&format!("/admin/v1/api-users/{id}/revoke"), json!({}))
        .await;
    assert_eq!(
        app.verify(&token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn latency_histograms_end_with_an_inf_bucket() {
    let app = spawn_app().await;
    let Issued { token, .. } = with_token(&app).await;
    for _ in 0..3 {
        app.verify(&token, None).await;
    }
    let text = app.get("/metrics").call().await.body().await;
    assert!(
        text.contains("countersign_verification_duration_seconds_bucket{le=\"+Inf\"} 3"),
        "{text}"
    );
    assert!(
        text.contains(
            "countersign_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/v1/verify\"} 3"
        ) || text.contains(
            "countersign_http_request_duration_seconds_bucket{route=\"/v1/verify\",le=\"+Inf\"} 3"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn other_methods_on_forward_auth_paths_get_405_with_a_request_id() {
    let app = spawn_app().await;
    for path in ["/v1/verify", "/v1/whoami"] {
        let response = app.post(path).call().await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert!(response.headers().contains_key("x-request-id"), "{path}");
    }
}

async fn thread_cache_answers(app: &TestApp) -> u64 {
    let text = app.get("/metrics").call().await.body().await;
    text.lines()
        .find_map(|line| line.strip_prefix("countersign_thread_cache_answers_total "))
        .unwrap_or_else(|| panic!("no thread cache counter in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_repeated_token_is_answered_from_the_thread_cache() {
    let app = spawn_app().await;
    let Issued { token, .. } = with_token(&app).await;
    assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);
    // On PostgreSQL the notification of the set-up's last change may arrive after the first
    // request and drop the cache once; four repeats in a row must then all be cache answers.
    let all_cached = app
        .eventually(Duration::from_secs(5), || async {
            let before = thread_cache_answers(&app).await;
            for _ in 0..4 {
                assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);
            }
            thread_cache_answers(&app).await - before == 4
        })
        .await;
    assert!(
        all_cached,
        "four repeats in a row are answered from the thread cache"
    );
}

#[tokio::test]
async fn a_repeated_legacy_header_is_answered_from_the_thread_cache_and_counted_in_usage() {
    let app = spawn_app().await;
    app.admin_post(
        "/admin/v1/integrator-keys",
        json!({"name": "ERP", "key": "ERP-KEY-1"}),
    )
    .await;
    app.create_sender("carol@example.com", Some("carol-password"))
        .await;
    let header = countersign_core::legacy::build_header(
        countersign_core::legacy::HeaderFormat::Json,
        "carol@example.com",
        "carol-password",
        "ERP-KEY-1",
        None,
    );
    let verify = || {
        app.get("/v1/verify")
            .header("X-DocuSign-Authentication", &header)
            .send()
    };
    let first = verify().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let expected = identity(&first);
    // As above: a late notification of the set-up may drop the cache once.
    let sent = std::sync::atomic::AtomicU64::new(1);
    let all_cached = app
        .eventually(Duration::from_secs(5), || async {
            let before = thread_cache_answers(&app).await;
            for _ in 0..4 {
                let again = verify().await.unwrap();
                sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                assert_eq!(again.status(), StatusCode::OK);
                assert_eq!(identity(&again), expected);
            }
            thread_cache_answers(&app).await - before == 4
        })
        .await;
    assert!(
        all_cached,
        "four repeats in a row are answered from the thread cache"
    );
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    let usage: Value = app.admin_get("/admin/v1/legacy-usage").await.value().await;
    assert_eq!(usage["items"][0]["requests"], sent, "{usage}");
}

//! `POST /api/v3.{N}/authentication/apiUser`: the token exchange and each of its errors.

use countersign_test_support::CreatedApiUser;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{TestApp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn setup() -> (TestApp, String) {
    let app = spawn_app().await;
    app.create_sender("bob@mycompany.com", None).await;
    let CreatedApiUser { key, .. } = app
        .create_api_user("NewAPIUser", json!({"type": "organization"}))
        .await;
    (app, key)
}

async fn post_raw(
    app: &TestApp,
    version: &str,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    app.post(&format!("/api/{version}/authentication/apiUser"))
        .header("Content-Type", content_type)
        .body(body)
        .call()
        .await
}

#[tokio::test]
async fn seed_request_body_works_byte_for_byte() {
    let (app, key) = setup().await;
    let body = format!(
        r#"{{    "request": {{    "apiUsername": "NewAPIUser",    "key": "{key}",    "contextUsername": "bob@mycompany.com",    "sessionLengthInMinutes": 60    }}}}"#
    );
    let response = post_raw(&app, "v3.5", "application/json", body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    let token = body["token"].as_str().unwrap();
    assert_eq!(body["result"]["token"], token);
    assert_eq!(body["messages"], json!([]));
    let expires = time::OffsetDateTime::parse(
        body["result"]["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let minutes = (expires - app.now()).whole_minutes();
    assert!((59..=60).contains(&minutes), "{minutes}");
    assert_eq!(app.whoami(token, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_minor_version_answers_and_others_do_not() {
    let (app, key) = setup().await;
    for n in 0..=9 {
        let body = json!({"request": {"apiUsername": "NewAPIUser", "key": key, "contextUsername": "bob@mycompany.com"}}).to_string();
        let response = post_raw(&app, &format!("v3.{n}"), "application/json", body).await;
        assert_eq!(response.status(), StatusCode::OK, "v3.{n}");
    }
    let response = post_raw(&app, "v4.0", "application/json", "{}".into()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn missing_fields_are_400_with_details() {
    let (app, _) = setup().await;
    let response = post_raw(
        &app,
        "v3.7",
        "application/json",
        r#"{"request": {"apiUsername": "NewAPIUser"}}"#.into(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.value().await;
    assert_eq!(body["errorCode"], "BAD_REQUEST");
    assert_eq!(
        body["details"],
        json!([
            "'Key' should not be empty.",
            "'ContextUsername' should not be empty."
        ])
    );
    let response = post_raw(
        &app,
        "v3.7",
        "application/json",
        r#"{"request": {"key": "x", "contextUsername": "y"}}"#.into(),
    )
    .await;
    let body: Value = response.value().await;
    assert_eq!(
        body["details"],
        json!(["'ApiUsername' should not be empty."])
    );
}

#[tokio::test]
async fn malformed_json_is_400() {
    let (app, _) = setup().await;
    for body in [
        "{",
        "[]",
        "null",
        "\"text\"",
        "{\"request\": 5}",
        "{\"request\": {\"key\": 5}}",
    ] {
        let response = post_raw(&app, "v3.5", "application/json", body.into()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.value().await["errorCode"], "BAD_REQUEST");
    }
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let (app, key) = setup().await;
    let body = json!({"request": {"apiUsername": "NewAPIUser", "key": key, "contextUsername": "bob@mycompany.com"}}).to_string();
    let response = post_raw(&app, "v3.5", "text/plain", body.clone()).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let response = post_raw(&app, "v3.5", "application/json; charset=utf-8", body).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_key_failure_gets_the_same_401() {
    let (app, key) = setup().await;
    let CreatedApiUser {
        id: revoked_id,
        key: revoked_key,
    } = app
        .create_api_user("RevokedUser", json!({"type": "organization"}))
        .await;
    app.admin_post(
        &format!("/admin/v1/api-users/{revoked_id}/revoke"),
        json!({}),
    )
    .await;
    let CreatedApiUser {
        id: deleted_id,
        key: deleted_key,
    } = app
        .create_api_user("DeletedUser", json!({"type": "organization"}))
        .await;
    app.admin(Method::DELETE, &format!("/admin/v1/api-users/{deleted_id}"))
        .call()
        .await;
    let mut wrong = key.clone();
    wrong.replace_range(10..11, if &key[10..11] == "A" { "B" } else { "A" });
    let cases = [
        ("unknown", "Nobody", key.clone()),
        ("wrong key", "NewAPIUser", wrong),
        (
            "not a key",
            "NewAPIUser",
            "vY+ak1310/yTfjN8qhoxEkjN1bX1Ev99".to_owned(),
        ),
        ("revoked", "RevokedUser", revoked_key),
        ("deleted", "DeletedUser", deleted_key),
    ];
    let mut bodies = Vec::new();
    for (case, username, key) in cases {
        let response = app.exchange(username, &key, "bob@mycompany.com").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        let body: Value = response.value().await;
        assert_eq!(body["errorCode"], "UNAUTHORIZED", "{case}");
        assert_eq!(
            body["summary"], "The provided key for the API User was not valid",
            "{case}"
        );
        bodies.push(body);
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "identical answers"
    );
}

#[tokio::test]
async fn expired_api_user_gets_401() {
    let (app, key) = setup().await;
    app.advance(time::Duration::days(31));
    let response = app.exchange("NewAPIUser", &key, "bob@mycompany.com").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_disabled_or_out_of_scope_context_user_gets_403() {
    let (app, key) = setup().await;
    let response = app
        .exchange("NewAPIUser", &key, "nobody@mycompany.com")
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.value().await["errorCode"], "FORBIDDEN");
    let carol = app.create_user("carol@mycompany.com", None).await;
    app.admin(Method::PATCH, &format!("/admin/v1/users/{carol}"))
        .json(&json!({"status": "disabled"}))
        .call()
        .await;
    assert_eq!(
        app.exchange("NewAPIUser", &key, "carol@mycompany.com")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let dave = app.create_user("dave@mycompany.com", None).await;
    let CreatedApiUser { key: user_key, .. } = app
        .create_api_user("DaveOnly", json!({"type": "user", "user_id": dave}))
        .await;
    assert_eq!(
        app.exchange("DaveOnly", &user_key, "bob@mycompany.com")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn context_username_matches_case_insensitively() {
    let (app, key) = setup().await;
    let response = app.exchange("newapiuser", &key, "BOB@MyCompany.com").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn session_length_has_bounds_and_is_clamped_to_the_api_user_expiry() {
    let (app, key) = setup().await;
    for minutes in [0, -5, 1441] {
        let response = app.post("/api/v3.5/authentication/apiUser")
            .json(&json!({"request": {"apiUsername": "NewAPIUser", "key": key, "contextUsername": "bob@mycompany.com", "sessionLengthInMinutes": minutes}}))
            .call().await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{minutes}");
    }
    let expires_at = (app.now() + time::Duration::minutes(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let created: Value = app
        .admin_post("/admin/v1/api-users", json!({"username": "ShortLived", "scope": {"type": "organization"}, "expires_at": expires_at}))
        .await
        .value().await;
    let short_key = created["key"].as_str().unwrap();
    let response = app.post("/api/v3.5/authentication/apiUser")
        .json(&json!({"request": {"apiUsername": "ShortLived", "key": short_key, "contextUsername": "bob@mycompany.com", "sessionLengthInMinutes": 1440}}))
        .call().await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    assert_eq!(
        body["result"]["expiresAt"],
        created["api_user"]["expires_at"]
    );
}

#[tokio::test]
async fn unknown_properties_are_ignored() {
    let (app, key) = setup().await;
    let response = app.post("/api/v3.5/authentication/apiUser")
        .json(&json!({"request": {"apiUsername": "NewAPIUser", "key": key, "contextUsername": "bob@mycompany.com", "extra": [1, 2]}, "other": true}))
        .call().await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn token_issuance_and_failures_are_audited_without_secrets() {
    let (app, key) = setup().await;
    let token = app.token("NewAPIUser", &key, "bob@mycompany.com").await;
    app.exchange("NewAPIUser", "csk_wrong", "bob@mycompany.com")
        .await;
    let found = app
        .eventually(std::time::Duration::from_secs(5), || async {
            let body: Value = app
                .admin_get("/admin/v1/audit?action=token.issue")
                .await
                .value()
                .await;
            let outcomes: Vec<String> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["outcome"].as_str().unwrap().to_owned())
                .collect();
            outcomes.iter().any(|o| o == "success") && outcomes.iter().any(|o| o == "failure")
        })
        .await;
    assert!(found, "both events visible within 5 s");
    let all = app
        .admin_get("/admin/v1/audit?limit=1000")
        .await
        .body()
        .await;
    assert!(!all.contains(&key));
    assert!(!all.contains(&token));
}

/// The audit log shows at once every event this node queued before the read: an administrator
/// sees what was just done, without waiting for the background writer.
#[tokio::test]
async fn the_audit_log_shows_at_once_what_was_just_done() {
    let (app, key) = setup().await;
    for _ in 0..50 {
        app.token("NewAPIUser", &key, "bob@mycompany.com").await;
    }
    let body: Value = app
        .admin_get("/admin/v1/audit?action=token.issue&limit=1000")
        .await
        .value()
        .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 50);
}

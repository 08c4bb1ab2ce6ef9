//! Credential lifecycle (SPEC §13): the organization's policy, the keys of an API user with
//! their use, rotation that finishes itself, the credential report and whoami's expiries.
//! Time moves with the server's manual clock; the lifecycle checks run every 50 ms.

use countersign_test_support::{ADMIN_EMAIL, CreatedApiUser, TestApp, spawn_app_with};
use countersign_test_support::{Call as _, Read as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration as Wait;
use time::Duration;

pub async fn lifecycle_app() -> TestApp {
    spawn_app_with(|config| {
        config.lifecycle_check_seconds = 0.05;
        config.webhooks.allow_http = true;
        config.webhooks.allow_private = true;
        config.webhooks.retry_base_seconds = 1.0;
        // The clock moves by months here; the administrator stays signed in.
        config.admin_session_minutes = 60 * 24 * 1000;
    })
    .await
}

pub fn at(app: &TestApp, from_now: Duration) -> String {
    (app.now() + from_now)
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Creates an organization-scope API user expiring `expires_in` from now.
pub async fn api_user(app: &TestApp, username: &str, expires_in: Duration) -> CreatedApiUser {
    let scope = json!({"type": "organization"});
    app.create_api_user_until(username, scope, app.now() + expires_in)
        .await
}

/// Waits until a lifecycle round has started and finished after this call: the lease is
/// renewed at the start of each round, to the server's time plus at least 5 s.
pub async fn full_round(app: &TestApp) {
    for _ in 0..2 {
        app.advance(Duration::seconds(6));
        let renewed = app
            .eventually(Wait::from_secs(10), || async {
                app.store
                    .find_lease("lifecycle")
                    .await
                    .unwrap()
                    .is_some_and(|(_, until)| until > app.now())
            })
            .await;
        assert!(renewed, "a lifecycle round runs");
    }
}

pub async fn patch_organization(app: &TestApp, body: Value) -> reqwest::Response {
    app.admin(Method::PATCH, "/admin/v1/organization")
        .json(&body)
        .call()
        .await
}

async fn get_api_user(app: &TestApp, id: &str) -> Value {
    app.admin_get(&format!("/admin/v1/api-users/{id}"))
        .await
        .value()
        .await
}

async fn rotate(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.admin_post(&format!("/admin/v1/api-users/{id}/rotate"), body)
        .await
}

#[tokio::test]
async fn policy_is_read_and_changed_on_the_organization() {
    let app = lifecycle_app().await;
    let body: Value = app.admin_get("/admin/v1/organization").await.value().await;
    assert_eq!(body["api_user_max_lifetime_days"], 730);
    assert_eq!(body["api_user_unused_revoke_days"], Value::Null);
    assert_eq!(body["expiry_warning_days"], json!([30, 7, 1]));
    assert_eq!(body["leak_response"], "revoke");
    assert_eq!(body["legacy_header_enabled"], true);

    let changed = patch_organization(
        &app,
        json!({"api_user_max_lifetime_days": 90, "api_user_unused_revoke_days": 45,
               "expiry_warning_days": [1, 14], "leak_response": "notify"}),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let body: Value = changed.value().await;
    assert_eq!(body["api_user_max_lifetime_days"], 90);
    assert_eq!(body["api_user_unused_revoke_days"], 45);
    assert_eq!(body["expiry_warning_days"], json!([14, 1]));
    assert_eq!(body["leak_response"], "notify");
    assert_eq!(body["legacy_header_enabled"], true, "untouched");

    let off = patch_organization(&app, json!({"api_user_unused_revoke_days": null})).await;
    let off: Value = off.value().await;
    assert_eq!(off["api_user_unused_revoke_days"], Value::Null);
    assert_eq!(off["api_user_max_lifetime_days"], 90, "untouched");

    for (body, field) in [
        (
            json!({"api_user_max_lifetime_days": 0}),
            "api_user_max_lifetime_days",
        ),
        (
            json!({"api_user_max_lifetime_days": 731}),
            "api_user_max_lifetime_days",
        ),
        (
            json!({"api_user_unused_revoke_days": 3651}),
            "api_user_unused_revoke_days",
        ),
        (json!({"expiry_warning_days": [0]}), "expiry_warning_days"),
        (
            json!({"expiry_warning_days": [7, 7]}),
            "expiry_warning_days",
        ),
        (json!({"leak_response": "ignore"}), "leak_response"),
    ] {
        let response = patch_organization(&app, body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let problem: Value = response.value().await;
        assert_eq!(problem["field"], field, "{body}");
    }
    let wrong_type = patch_organization(&app, json!({"expiry_warning_days": "30"})).await;
    assert_eq!(wrong_type.status(), StatusCode::BAD_REQUEST);
    let unknown = patch_organization(&app, json!({"max_days": 3})).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let audit: Value = app
        .admin_get("/admin/v1/audit?action=organization.policy_update")
        .await
        .value()
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);
    assert_eq!(audit["items"][0]["actor"], ADMIN_EMAIL);
}

#[tokio::test]
async fn expiry_beyond_the_policy_is_refused_at_creation_and_rotation() {
    let app = lifecycle_app().await;
    patch_organization(&app, json!({"api_user_max_lifetime_days": 90})).await;
    let beyond = app
        .admin_post(
            "/admin/v1/api-users",
            json!({"username": "too-long", "scope": {"type": "organization"},
                   "expires_at": at(&app, Duration::days(91))}),
        )
        .await;
    assert_eq!(beyond.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(beyond.headers()["content-type"], "application/problem+json");
    let problem: Value = beyond.value().await;
    assert_eq!(problem["code"], "expiry_beyond_policy");
    assert_eq!(problem["field"], "expires_at");
    // Beyond the server-wide maximum is beyond any policy too.
    let far = app
        .admin_post(
            "/admin/v1/api-users",
            json!({"username": "far", "scope": {"type": "organization"},
                   "expires_at": at(&app, Duration::days(800))}),
        )
        .await;
    assert_eq!(far.value().await["code"], "expiry_beyond_policy");
    let CreatedApiUser { id, .. } = api_user(&app, "within", Duration::days(90)).await;

    patch_organization(&app, json!({"api_user_max_lifetime_days": 30})).await;
    let refused = rotate(&app, &id, json!({"grace_minutes": 0})).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.value().await["code"], "expiry_beyond_policy");
    patch_organization(&app, json!({"api_user_max_lifetime_days": 365})).await;
    assert_eq!(
        rotate(&app, &id, json!({"grace_minutes": 0}))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn api_users_unused_too_long_are_revoked_by_the_policy() {
    let app = lifecycle_app().await;
    app.create_sender("bob@example.com", None).await;
    let CreatedApiUser {
        id: used_id,
        key: used_key,
    } = api_user(&app, "used-bot", Duration::days(300)).await;
    let CreatedApiUser {
        id: idle_id,
        key: idle_key,
    } = api_user(&app, "idle-bot", Duration::days(300)).await;
    patch_organization(&app, json!({"api_user_unused_revoke_days": 10})).await;

    app.advance(Duration::days(5));
    let token = app.token("used-bot", &used_key, "bob@example.com").await;
    // The API user's last use is batched; wait until it is stored before moving on.
    let recorded = app
        .eventually(Wait::from_secs(15), || async {
            !get_api_user(&app, &used_id).await["last_used_at"].is_null()
        })
        .await;
    assert!(recorded, "the use is recorded");
    app.advance(Duration::days(6));

    let revoked = app
        .eventually(Wait::from_secs(10), || async {
            get_api_user(&app, &idle_id).await["status"] == "revoked"
        })
        .await;
    assert!(revoked, "the API user unused for 11 days is revoked");
    let idle = get_api_user(&app, &idle_id).await;
    assert_eq!(idle["revoked_by"], "policy");
    assert_eq!(get_api_user(&app, &used_id).await["status"], "active");
    assert_eq!(
        app.exchange("idle-bot", &idle_key, "bob@example.com")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(!token.is_empty());
    app.token("used-bot", &used_key, "bob@example.com").await;
    let items = app
        .audit_events("actor=policy&action=api_user.revoke", 1)
        .await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["subject"], idle_id.as_str());
}

#[tokio::test]
async fn keys_show_their_use_and_their_retirement() {
    let app = lifecycle_app().await;
    app.create_sender("bob@example.com", None).await;
    let CreatedApiUser { id, key } = api_user(&app, "keyed-bot", Duration::days(100)).await;
    let fresh = get_api_user(&app, &id).await;
    let keys = fresh["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["status"], "active");
    assert_eq!(keys[0]["last_used_at"], Value::Null);
    assert_eq!(keys[0]["retires_at"], Value::Null);
    assert!(keys[0]["created_at"].is_string());

    app.token("keyed-bot", &key, "bob@example.com").await;
    // A key's first use is recorded at once.
    let used = get_api_user(&app, &id).await;
    assert_eq!(used["keys"][0]["last_used_ip"], "127.0.0.1");
    assert!(used["keys"][0]["last_used_at"].is_string());

    let rotated = rotate(&app, &id, json!({"grace_minutes": 60})).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let after = get_api_user(&app, &id).await;
    let keys = after["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["status"], "active");
    assert_eq!(keys[0]["last_used_at"], Value::Null);
    assert_eq!(keys[1]["status"], "retiring");
    assert_eq!(
        keys[1]["retires_at"],
        at(&app, Duration::minutes(60)).as_str()
    );
    assert_eq!(keys[1]["last_used_ip"], "127.0.0.1");

    app.advance(Duration::minutes(61));
    let later = get_api_user(&app, &id).await;
    assert_eq!(later["keys"][1]["status"], "retired");
    assert_eq!(
        app.exchange("keyed-bot", &key, "bob@example.com")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let silence = rotate(
        &app,
        &id,
        json!({"grace_minutes": 10, "retire_after_silence_minutes": 0}),
    )
    .await;
    assert_eq!(silence.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        silence.value().await["field"],
        "retire_after_silence_minutes"
    );
}

#[tokio::test]
async fn rotation_finishes_itself_once_the_old_key_goes_silent() {
    let app = lifecycle_app().await;
    app.create_sender("bob@example.com", None).await;
    let CreatedApiUser { id, key: old_key } =
        api_user(&app, "rolling-bot", Duration::days(100)).await;
    let old_token = app.token("rolling-bot", &old_key, "bob@example.com").await;
    let rotated: Value = rotate(
        &app,
        &id,
        json!({"grace_minutes": 1440, "retire_after_silence_minutes": 15}),
    )
    .await
    .value()
    .await;
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    let status_of_old = || async { get_api_user(&app, &id).await["keys"][1]["status"].clone() };

    // Before the new key is used, silence does not count.
    app.advance(Duration::minutes(30));
    app.token("rolling-bot", &new_key, "bob@example.com").await;
    assert_eq!(status_of_old().await, "retiring");

    // A use of the old key ten minutes later starts the silence again.
    app.advance(Duration::minutes(10));
    app.token("rolling-bot", &old_key, "bob@example.com").await;
    // Its sessions are its use too.
    assert_eq!(app.verify(&old_token, None).await.status(), StatusCode::OK);
    app.advance(Duration::minutes(10));
    // Ten minutes of silence: a whole lifecycle round later it is still retiring.
    full_round(&app).await;
    assert_eq!(status_of_old().await, "retiring");

    app.advance(Duration::minutes(6));
    let retired = app
        .eventually(Wait::from_secs(10), || async {
            status_of_old().await == "retired"
        })
        .await;
    assert!(retired, "sixteen silent minutes retire the old key");
    assert_eq!(
        app.exchange("rolling-bot", &old_key, "bob@example.com")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.verify(&old_token, None).await.status(),
        StatusCode::UNAUTHORIZED,
        "sessions of the retired key end with it"
    );
    app.token("rolling-bot", &new_key, "bob@example.com").await;
    let items = app
        .audit_events("actor=policy&action=api_user.key_retire", 1)
        .await;
    assert_eq!(items[0]["subject"], id.as_str());
}

#[tokio::test]
async fn credential_report_names_findings_in_json_and_csv() {
    let app = lifecycle_app().await;
    app.create_sender("bob@example.com", None).await;
    let CreatedApiUser { id: idle_id, .. } = api_user(&app, "=idle-bot", Duration::days(400)).await;
    let CreatedApiUser {
        id: used_id,
        key: used_key,
    } = api_user(&app, "used-bot", Duration::days(400)).await;
    let CreatedApiUser {
        id: soon_id,
        key: soon_key,
    } = api_user(&app, "soon-bot", Duration::days(100)).await;
    app.token("used-bot", &used_key, "bob@example.com").await;
    app.token("soon-bot", &soon_key, "bob@example.com").await;
    let recorded = app
        .eventually(Wait::from_secs(15), || async {
            !get_api_user(&app, &used_id).await["last_used_at"].is_null()
        })
        .await;
    assert!(recorded);
    app.advance(Duration::days(91));
    let token = app.token("soon-bot", &soon_key, "bob@example.com").await;
    assert!(!token.is_empty());
    let soon_used = app
        .eventually(Wait::from_secs(15), || async {
            get_api_user(&app, &soon_id).await["last_used_at"] == at(&app, Duration::ZERO)
        })
        .await;
    assert!(soon_used);
    assert_eq!(
        rotate(&app, &used_id, json!({"grace_minutes": 60}))
            .await
            .status(),
        StatusCode::OK
    );

    let report: Value = app
        .admin_get("/admin/v1/credential-report")
        .await
        .value()
        .await;
    assert!(report["generated_at"].is_string());
    let item = |id: &str| {
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["api_user_id"] == id)
            .unwrap()
            .clone()
    };
    let idle = item(&idle_id);
    assert_eq!(idle["findings"], json!(["never_used", "old_key_90_days"]));
    assert_eq!(idle["scope"], json!({"type": "organization"}));
    assert_eq!(idle["status"], "active");
    // 400 days at whole seconds, 91 days on: 309 days less a fraction of a second.
    assert!((308..=309).contains(&idle["days_to_expiry"].as_i64().unwrap()));
    assert_eq!(idle["oldest_active_key_days"], 91);
    let used = item(&used_id);
    assert_eq!(
        used["findings"],
        json!(["unused_30_days", "old_key_90_days", "rotation_pending"])
    );
    assert_eq!(used["last_used_ip"], "127.0.0.1");
    let soon = item(&soon_id);
    assert_eq!(soon["findings"], json!(["expires_soon", "old_key_90_days"]));
    assert!((8..=9).contains(&soon["days_to_expiry"].as_i64().unwrap()));

    let csv = app
        .admin_get("/admin/v1/credential-report?format=csv")
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.body().await;
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "api_user_id,username,scope,status,created_at,expires_at,days_to_expiry,last_used_at,last_used_ip,oldest_active_key_days,findings"
    );
    let idle_line = text.lines().find(|l| l.contains(&idle_id)).unwrap();
    assert!(
        idle_line.contains("\"'=idle-bot\""),
        "a formula is not run: {idle_line}"
    );
    let used_line = text.lines().find(|l| l.contains(&used_id)).unwrap();
    assert!(used_line.ends_with("\"unused_30_days;old_key_90_days;rotation_pending\""));
    assert_eq!(text.lines().count(), 4);
    assert_eq!(
        app.admin_get("/admin/v1/credential-report?format=xml")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn whoami_returns_the_credential_and_session_expiry() {
    let app = lifecycle_app().await;
    app.create_sender("bob@example.com", None).await;
    let CreatedApiUser { id, key } = api_user(&app, "who-bot", Duration::days(50)).await;
    let exchanged: Value = app
        .exchange("who-bot", &key, "bob@example.com")
        .await
        .value()
        .await;
    let token = exchanged["token"].as_str().unwrap();
    let whoami: Value = app.whoami(token, None).await.value().await;
    assert_eq!(
        whoami["credential_expires_at"],
        get_api_user(&app, &id).await["expires_at"]
    );
    assert_eq!(
        whoami["session_expires_at"],
        exchanged["result"]["expiresAt"]
    );
}

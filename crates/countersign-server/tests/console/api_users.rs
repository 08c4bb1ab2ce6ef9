//! The API-users page over plain HTTP: creation with the key shown once, validation errors next
//! to their fields, revoke and delete behind confirmation, rotation with a grace period.

use crate::support::{ConsoleClient, api_user, csrf_token, date_in, location, value_of_id};
use countersign_test_support::CreatedApiUser;
use countersign_test_support::Read as _;
use countersign_test_support::spawn_app;
use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;

async fn create(
    console: &ConsoleClient<'_>,
    fields: &[(&str, &str)],
) -> (StatusCode, String, Option<String>) {
    let token = console.csrf("/console/api-users").await;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    let response = console.post("/console/api-users", &form).await;
    let status = response.status();
    let cache = response
        .headers()
        .get(CACHE_CONTROL)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.body().await;
    assert!(
        status != StatusCode::OK || cache.as_deref() == Some("no-store"),
        "key pages are never cached"
    );
    let key = value_of_id(&body, "new-key");
    (status, body, key)
}

#[tokio::test]
async fn created_key_is_shown_once_and_works_for_a_token() {
    let app = spawn_app().await;
    let alice = app.create_sender("alice@example.com", None).await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let expires = date_in(&app, 60);
    let (status, body, key) = create(
        &console,
        &[
            ("username", "erp-bot"),
            ("scope", "user"),
            ("user_id", &alice),
            ("expires_at", &expires),
            ("description", "the ERP"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("It will not be shown again"));
    let key = key.expect("the key is on the page");
    assert!(key.starts_with("csk_"));
    let token = app.token("erp-bot", &key, "alice@example.com").await;
    assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);
    // The list never shows the key again.
    let list = console.page("/console/api-users").await;
    assert!(list.contains("erp-bot"));
    assert!(list.contains("User: "));
    assert!(list.contains("alice@example.com"));
    assert!(!list.contains(&key));
    // A date-only expiry means 00:00 UTC at the start of that date.
    let stored = api_user(&app, "erp-bot").await.unwrap();
    assert_eq!(stored["expires_at"], format!("{expires}T00:00:00Z"));
    assert_eq!(stored["created_by"], countersign_test_support::ADMIN_EMAIL);
}

#[tokio::test]
async fn duplicate_username_is_shown_next_to_the_field_and_the_form_keeps_what_was_typed() {
    let app = spawn_app().await;
    app.create_api_user("Taken-Name", serde_json::json!({"type": "organization"}))
        .await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let expires = date_in(&app, 45);
    let (status, body, key) = create(
        &console,
        &[
            ("username", "taken-name"),
            ("scope", "environment"),
            ("environment_id", &app.environment_id),
            ("expires_at", &expires),
            ("description", "kept description"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(key.is_none());
    assert!(body.contains("id=\"username-error\""));
    assert!(
        body.contains("An API user with this username, or one that looks like it, already exists")
    );
    assert!(body.contains("value=\"taken-name\""));
    assert!(body.contains(&format!("value=\"{expires}\"")));
    assert!(body.contains("value=\"kept description\""));
    assert!(body.contains("value=\"environment\" required checked"));
    assert!(body.contains(&format!("value=\"{}\" selected", app.environment_id)));
    assert!(body.contains("aria-invalid=\"true\""));
}

#[tokio::test]
async fn past_expiry_is_refused_next_to_the_field() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    for (days, message) in [
        (-1, "must be in the future"),
        (0, "must be in the future"),
        (731, "can be at most 730 days away"),
    ] {
        let expires = date_in(&app, days);
        let (status, body, key) = create(
            &console,
            &[
                ("username", "dated-bot"),
                ("scope", "organization"),
                ("expires_at", &expires),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{days} days");
        assert!(key.is_none());
        assert!(body.contains("id=\"expires_at-error\""), "{days} days");
        assert!(body.contains(message), "{days} days: {message}");
        assert!(body.contains("value=\"dated-bot\""));
    }
    let (status, body, _) = create(&console, &[("username", "no-scope"), ("expires_at", "")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("id=\"scope-error\""));
    assert!(body.contains("Choose an expiration date."));
    assert!(api_user(&app, "dated-bot").await.is_none());
}

#[tokio::test]
async fn create_form_shows_the_default_and_maximum_expiry() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let page = console.page("/console/api-users").await;
    let default = date_in(&app, 365);
    let max = date_in(&app, 730);
    assert!(page.contains(&format!(
        "type=\"date\" name=\"expires_at\" value=\"{default}\""
    )));
    assert!(page.contains(&format!("max=\"{max}\"")));
    assert!(page.contains(&format!("Default {default}, latest {max} (730 days)")));
    for label in [
        "for=\"username\"",
        "for=\"scope-user\"",
        "for=\"scope_user\"",
        "for=\"scope-environment\"",
        "for=\"scope_environment\"",
        "for=\"scope-organization\"",
        "for=\"expires_at\"",
        "for=\"description\"",
        "for=\"show-inactive\"",
    ] {
        assert!(page.contains(label), "a visible label {label}");
    }
}

#[tokio::test]
async fn revoke_asks_for_confirmation_before_changing_anything() {
    let app = spawn_app().await;
    app.create_sender("alice@example.com", None).await;
    let CreatedApiUser { id, key } = app
        .create_api_user("revocable", serde_json::json!({"type": "organization"}))
        .await;
    let token = app.token("revocable", &key, "alice@example.com").await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let csrf = console.csrf("/console/api-users").await;
    let response = console
        .post(
            &format!("/console/api-users/{id}/revoke"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.body().await;
    assert!(body.contains("Revoke API user?"));
    assert!(body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(
        api_user(&app, "revocable").await.unwrap()["status"],
        "active"
    );
    assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);
    let response = console
        .post(
            &format!("/console/api-users/{id}/revoke"),
            &[("csrf_token", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/api-users?done=revoked");
    assert_eq!(
        api_user(&app, "revocable").await.unwrap()["status"],
        "revoked"
    );
    assert_eq!(
        app.verify(&token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Hidden by default, shown with the toggle, with its status.
    let list = console.page("/console/api-users").await;
    assert!(!list.contains("data-username=\"revocable\""));
    let list = console.page("/console/api-users?inactive=1").await;
    assert!(list.contains("data-username=\"revocable\""));
    assert!(list.contains("status-revoked"));
}

#[tokio::test]
async fn delete_asks_for_confirmation_then_removes_the_record() {
    let app = spawn_app().await;
    let CreatedApiUser { id, .. } = app
        .create_api_user("deletable", serde_json::json!({"type": "organization"}))
        .await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let csrf = console.csrf("/console/api-users").await;
    let response = console
        .post(
            &format!("/console/api-users/{id}/delete"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.body().await.contains("Delete API user?"));
    assert!(api_user(&app, "deletable").await.is_some());
    let response = console
        .post(
            &format!("/console/api-users/{id}/delete"),
            &[("csrf_token", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(location(&response), "/console/api-users?done=deleted");
    assert!(api_user(&app, "deletable").await.is_none());
    let response = console
        .post(
            &format!("/console/api-users/{id}/delete"),
            &[("csrf_token", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rotate_shows_the_new_key_once_and_the_old_key_lasts_the_grace_period() {
    let app = spawn_app().await;
    app.create_sender("alice@example.com", None).await;
    let CreatedApiUser { id, key: old_key } = app
        .create_api_user("rotating", serde_json::json!({"type": "organization"}))
        .await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let page = console
        .page(&format!("/console/api-users/{id}/rotate"))
        .await;
    assert!(page.contains("for=\"grace_minutes\""));
    for choice in ["value=\"0\"", "value=\"60\"", "value=\"43200\""] {
        assert!(page.contains(choice), "{choice}");
    }
    let response = console
        .post(
            &format!("/console/api-users/{id}/rotate"),
            &[("csrf_token", &csrf_token(&page)), ("grace_minutes", "60")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let body = response.body().await;
    let new_key = value_of_id(&body, "new-key").unwrap();
    assert_ne!(new_key, old_key);
    assert!(body.contains("The previous key keeps working until"));
    app.token("rotating", &new_key, "alice@example.com").await;
    app.token("rotating", &old_key, "alice@example.com").await;
    app.advance(time::Duration::minutes(61));
    assert_eq!(
        app.exchange("rotating", &old_key, "alice@example.com")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.token("rotating", &new_key, "alice@example.com").await;
    // A grace period beyond 30 days is refused next to the field.
    let response = console
        .post(
            &format!("/console/api-users/{id}/rotate"),
            &[
                ("csrf_token", &csrf_token(&page)),
                ("grace_minutes", "50000"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.body().await;
    assert!(body.contains("id=\"grace_minutes-error\""));
    assert!(value_of_id(&body, "new-key").is_none());
}

#[tokio::test]
async fn user_controlled_text_is_escaped() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let expires = date_in(&app, 30);
    let (status, body, _) = create(
        &console,
        &[
            ("username", "<script>alert(1)</script>"),
            ("scope", "organization"),
            ("expires_at", &expires),
            ("description", "\"><img src=x onerror=alert(2)>"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("<script>alert(1)"));
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let list = console.page("/console/api-users").await;
    assert!(!list.contains("<script>alert(1)"));
    assert!(!list.contains("<img src=x"));
    assert!(list.contains("&lt;img src=x onerror=alert(2)&gt;"));
}

#[tokio::test]
async fn list_shows_scope_targets_status_and_creator() {
    let app = spawn_app().await;
    let bob = app.create_user("bob@example.com", None).await;
    app.create_api_user(
        "for-bob",
        serde_json::json!({"type": "user", "user_id": bob}),
    )
    .await;
    app.create_api_user(
        "for-production",
        serde_json::json!({"type": "environment", "environment_id": app.environment_id}),
    )
    .await;
    app.create_api_user("for-everyone", serde_json::json!({"type": "organization"}))
        .await;
    // Expired after 31 days: hidden by default, listed as expired with the toggle.
    app.advance(time::Duration::days(31));
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let list = console.page("/console/api-users").await;
    assert!(!list.contains("data-username=\"for-bob\""));
    let list = console.page("/console/api-users?inactive=1").await;
    for expected in [
        "data-username=\"for-bob\"",
        "bob@example.com",
        "Environment: Production",
        "Organization: every user",
        "status-expired",
        "Never",
        "data-label=\"Created by\">admin@example.com",
    ] {
        assert!(list.contains(expected), "{expected}");
    }
}

//! `/admin/v1/api-users`: create, list, get, revoke, rotate, delete, and who may.

use countersign_test_support::CreatedApiUser;
use countersign_test_support::{ADMIN_EMAIL, spawn_app};
use countersign_test_support::{Call as _, Read as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn in_days(app: &countersign_test_support::TestApp, days: i64) -> String {
    (app.now() + time::Duration::days(days))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn created_api_user_shows_key_once_and_never_again() {
    let app = spawn_app().await;
    let response = app
        .admin_post("/admin/v1/api-users", json!({"username": "NewAPIUser", "scope": {"type": "organization"}, "expires_at": in_days(&app, 30)}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.value().await;
    let key = body["key"].as_str().unwrap();
    assert!(key.starts_with("csk_") && key.len() == 53, "{key}");
    assert_eq!(body["api_user"]["status"], "active");
    assert_eq!(body["api_user"]["scope"], json!({"type": "organization"}));
    assert_eq!(body["api_user"]["created_by"], ADMIN_EMAIL);
    let id = body["api_user"]["id"].as_str().unwrap();
    let fetched = app
        .admin_get(&format!("/admin/v1/api-users/{id}"))
        .await
        .body()
        .await;
    assert!(!fetched.contains(key));
    assert!(!fetched.contains("\"key\""));
    let listed = app.admin_get("/admin/v1/api-users").await.body().await;
    assert!(!listed.contains(key));
}

#[tokio::test]
async fn duplicate_username_is_refused_case_insensitively() {
    let app = spawn_app().await;
    app.create_api_user("Integration-Bot", json!({"type": "organization"}))
        .await;
    let response = app
        .admin_post("/admin/v1/api-users", json!({"username": "integration-BOT", "scope": {"type": "organization"}, "expires_at": in_days(&app, 3)}))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.value().await;
    assert_eq!(body["code"], "username_taken");
}

#[tokio::test]
async fn expiry_is_required_future_and_bounded() {
    let app = spawn_app().await;
    let past = app
        .admin_post("/admin/v1/api-users", json!({"username": "bot1", "scope": {"type": "organization"}, "expires_at": in_days(&app, -1)}))
        .await;
    assert_eq!(past.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(past.value().await["field"], "expires_at");
    let too_far = app
        .admin_post("/admin/v1/api-users", json!({"username": "bot2", "scope": {"type": "organization"}, "expires_at": in_days(&app, 731)}))
        .await;
    assert_eq!(too_far.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let missing = app
        .admin_post(
            "/admin/v1/api-users",
            json!({"username": "bot3", "scope": {"type": "organization"}}),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let date_only = (app.now() + time::Duration::days(10)).date().to_string();
    let by_date = app
        .admin_post(
            "/admin/v1/api-users",
            json!({"username": "bot4", "scope": {"type": "organization"}, "expires_at": date_only}),
        )
        .await;
    assert_eq!(by_date.status(), StatusCode::CREATED);
    let body: Value = by_date.value().await;
    assert!(
        body["api_user"]["expires_at"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00Z")
    );
}

#[tokio::test]
async fn username_bounds_are_enforced() {
    let app = spawn_app().await;
    for username in ["ab", &"x".repeat(129)] {
        let response = app
            .admin_post("/admin/v1/api-users", json!({"username": username, "scope": {"type": "organization"}, "expires_at": in_days(&app, 3)}))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{username:?}"
        );
    }
    // A control character is refused before the bounds, as every invisible character is.
    let response = app
        .admin_post("/admin/v1/api-users", json!({"username": "tab\tname", "scope": {"type": "organization"}, "expires_at": in_days(&app, 3)}))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn scope_targets_must_belong_to_the_organization() {
    let app = spawn_app().await;
    let stranger = uuid::Uuid::new_v4();
    let response = app
        .admin_post("/admin/v1/api-users", json!({"username": "bot", "scope": {"type": "user", "user_id": stranger}, "expires_at": in_days(&app, 3)}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app
        .admin_post("/admin/v1/api-users", json!({"username": "bot", "scope": {"type": "environment", "environment_id": stranger}, "expires_at": in_days(&app, 3)}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn revoked_and_expired_api_users_are_listed_only_on_request() {
    let mut app = spawn_app().await;
    let CreatedApiUser { id: active, .. } = app
        .create_api_user("active-bot", json!({"type": "organization"}))
        .await;
    let CreatedApiUser { id: revoked, .. } = app
        .create_api_user("revoked-bot", json!({"type": "organization"}))
        .await;
    let short = app
        .admin_post("/admin/v1/api-users", json!({"username": "short-bot", "scope": {"type": "organization"}, "expires_at": in_days(&app, 1)}))
        .await
        .value().await;
    let short_id = short["api_user"]["id"].as_str().unwrap().to_owned();
    let response = app
        .admin_post(&format!("/admin/v1/api-users/{revoked}/revoke"), json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    assert_eq!(body["status"], "revoked");
    assert_eq!(body["revoked_by"], ADMIN_EMAIL);
    app.advance(time::Duration::days(2));
    // The administrator's session has expired meanwhile; sign in again.
    app.admin_token = app
        .login(
            countersign_test_support::ADMIN_EMAIL,
            countersign_test_support::ADMIN_PASSWORD,
        )
        .await
        .unwrap();
    let ids = |body: Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let default_list = ids(app.admin_get("/admin/v1/api-users").await.value().await);
    assert_eq!(default_list, vec![active.clone()]);
    let all: Value = app
        .admin_get("/admin/v1/api-users?include_inactive=true")
        .await
        .value()
        .await;
    let statuses: Vec<(String, String)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(statuses.contains(&(active, "active".into())));
    assert!(statuses.contains(&(revoked, "revoked".into())));
    assert!(statuses.contains(&(short_id, "expired".into())));
}

#[tokio::test]
async fn lists_page_with_a_cursor() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_api_user(&format!("bot-{i}"), json!({"type": "organization"}))
            .await;
    }
    let first: Value = app
        .admin_get("/admin/v1/api-users?limit=2")
        .await
        .value()
        .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let mut seen = 2;
    let mut cursor = first["next_cursor"].as_str().unwrap().to_owned();
    loop {
        let page: Value = app
            .admin_get(&format!("/admin/v1/api-users?limit=2&cursor={cursor}"))
            .await
            .value()
            .await;
        seen += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, 5);
    let too_many = app.admin_get("/admin/v1/api-users?limit=1001").await;
    assert_eq!(too_many.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn deleted_api_user_is_gone() {
    let app = spawn_app().await;
    let CreatedApiUser { id, .. } = app
        .create_api_user("doomed", json!({"type": "organization"}))
        .await;
    let response = app
        .admin(Method::DELETE, &format!("/admin/v1/api-users/{id}"))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.admin_get(&format!("/admin/v1/api-users/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let all: Value = app
        .admin_get("/admin/v1/api-users?include_inactive=true")
        .await
        .value()
        .await;
    assert!(all["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn partial_administrator_gets_403() {
    let app = spawn_app().await;
    let user = app
        .create_user("partial@example.com", Some("partial-password"))
        .await;
    let sandbox = app.create_environment("Sandbox", "sandbox").await;
    let response = app
        .admin(
            Method::PUT,
            &format!("/admin/v1/environments/{sandbox}/admins/{user}"),
        )
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let token = app
        .login("partial@example.com", "partial-password")
        .await
        .unwrap();
    let create = app.post("/admin/v1/api-users")
        .bearer_auth(&token)
        .json(&json!({"username": "sneaky", "scope": {"type": "organization"}, "expires_at": in_days(&app, 3)}))
        .call().await;
    assert_eq!(create.status(), StatusCode::FORBIDDEN);
    assert_eq!(create.value().await["code"], "not_organization_admin");
    let list = app.get_as(&token, "/admin/v1/api-users").await;
    assert_eq!(list.status(), StatusCode::FORBIDDEN);
    // Administering the remaining environment too makes the user an organization administrator.
    let production = app.environment_id.clone();
    app.admin(
        Method::PUT,
        &format!("/admin/v1/environments/{production}/admins/{user}"),
    )
    .call()
    .await;
    let list = app.get_as(&token, "/admin/v1/api-users").await;
    assert_eq!(list.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_new_environment_demotes_other_administrators_until_added() {
    let app = spawn_app().await;
    let user = app
        .create_user("second@example.com", Some("second-password"))
        .await;
    let production = app.environment_id.clone();
    app.admin(
        Method::PUT,
        &format!("/admin/v1/environments/{production}/admins/{user}"),
    )
    .call()
    .await;
    let token = app
        .login("second@example.com", "second-password")
        .await
        .unwrap();
    let me: Value = app.get_as(&token, "/admin/v1/me").await.value().await;
    assert_eq!(me["is_organization_admin"], true);
    app.create_environment("Sandbox", "sandbox").await;
    let me: Value = app.get_as(&token, "/admin/v1/me").await.value().await;
    assert_eq!(me["is_organization_admin"], false);
}

#[tokio::test]
async fn rotation_rejects_out_of_range_grace() {
    let app = spawn_app().await;
    let CreatedApiUser { id, .. } = app
        .create_api_user("rotor", json!({"type": "organization"}))
        .await;
    let response = app
        .admin_post(
            &format!("/admin/v1/api-users/{id}/rotate"),
            json!({"grace_minutes": 43_201}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app
        .admin_post(
            &format!("/admin/v1/api-users/{id}/rotate"),
            json!({"grace_minutes": -1}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let huge = app
        .admin_post(
            &format!("/admin/v1/api-users/{id}/rotate"),
            json!({"grace_minutes": 153_722_867_280_912_931_i64}),
        )
        .await;
    assert_eq!(
        huge.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no overflow, no dropped connection"
    );
}

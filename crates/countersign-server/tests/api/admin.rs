//! The admin REST API: sign-in, directory resources, audit, OpenAPI.

use countersign_test_support::CreatedAccount;
use countersign_test_support::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app};
use countersign_test_support::{Call as _, Read as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn sign_in_refuses_wrong_password_with_problem_json() {
    let app = spawn_app().await;
    assert!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.is_some());
    let response = app
        .post("/admin/v1/login")
        .json(&json!({"email": ADMIN_EMAIL, "password": "nope-nope"}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.value().await;
    assert_eq!(body["code"], "invalid_credentials");
    assert_eq!(body["status"], 401);
    let unknown = app.login("ghost@example.com", ADMIN_PASSWORD).await;
    assert!(unknown.is_none());
}

#[tokio::test]
async fn calls_without_a_session_are_401_and_logout_ends_it() {
    let app = spawn_app().await;
    let response = app.get("/admin/v1/users").call().await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.value().await["code"], "unauthorized");
    let token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let response = app
        .post("/admin/v1/logout")
        .bearer_auth(&token)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.get_as(&token, "/admin/v1/users").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_expire() {
    let app = spawn_app().await;
    app.advance(time::Duration::hours(13));
    assert_eq!(
        app.admin_get("/admin/v1/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn non_admin_user_may_sign_in_but_gets_403() {
    let app = spawn_app().await;
    app.create_user("plain@example.com", Some("plain-password"))
        .await;
    let token = app
        .login("plain@example.com", "plain-password")
        .await
        .unwrap();
    let me: Value = app.get_as(&token, "/admin/v1/me").await.value().await;
    assert_eq!(me["is_organization_admin"], false);
    for path in [
        "/admin/v1/users",
        "/admin/v1/environments",
        "/admin/v1/accounts",
        "/admin/v1/audit",
        "/admin/v1/integrator-keys",
    ] {
        let response = app.get_as(&token, path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn disabled_user_cannot_sign_in_and_loses_sessions() {
    let app = spawn_app().await;
    let id = app
        .create_user("temp@example.com", Some("temp-password"))
        .await;
    let token = app
        .login("temp@example.com", "temp-password")
        .await
        .unwrap();
    app.admin(Method::PATCH, &format!("/admin/v1/users/{id}"))
        .json(&json!({"status": "disabled"}))
        .call()
        .await;
    assert!(
        app.login("temp@example.com", "temp-password")
            .await
            .is_none()
    );
    let response = app.get_as(&token, "/admin/v1/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn directory_resources_round_trip() {
    let app = spawn_app().await;
    let env = app.create_environment("Sandbox", "sandbox").await;
    let got: Value = app
        .admin_get(&format!("/admin/v1/environments/{env}"))
        .await
        .value()
        .await;
    assert_eq!(
        got,
        json!({"id": env, "name": "Sandbox", "kind": "sandbox"})
    );
    let bad_kind = app
        .admin_post(
            "/admin/v1/environments",
            json!({"name": "X", "kind": "staging"}),
        )
        .await;
    assert_eq!(bad_kind.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let CreatedAccount {
        id: account,
        number,
    } = app.create_account(&env, "Test account").await;
    assert!(number.chars().all(|c| c.is_ascii_digit()) && number.len() == 8);
    let got: Value = app
        .admin_get(&format!("/admin/v1/accounts/{account}"))
        .await
        .value()
        .await;
    assert_eq!(got["environment_id"], env);
    let user = app.create_user("Zed@Example.com", None).await;
    let duplicate = app
        .admin_post(
            "/admin/v1/users",
            json!({"email": "zed@example.COM", "name": "Zed"}),
        )
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    app.put_membership(&user, &account, &["send", "sobo"], true)
        .await;
    let got: Value = app
        .admin_get(&format!("/admin/v1/users/{user}"))
        .await
        .value()
        .await;
    assert_eq!(got["email"], "Zed@Example.com");
    assert_eq!(got["status"], "active");
    assert_eq!(
        got["memberships"][0]["permissions"],
        json!(["send", "sobo"])
    );
    assert_eq!(got["memberships"][0]["is_default"], true);
    let bad_permission = app
        .admin(
            Method::PUT,
            &format!("/admin/v1/users/{user}/memberships/{account}"),
        )
        .json(&json!({"permissions": ["fly"], "is_default": false}))
        .call()
        .await;
    assert_eq!(bad_permission.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app
        .admin(Method::PUT, &format!("/admin/v1/users/{user}/password"))
        .json(&json!({"password": "a-new-password"}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        app.login("zed@example.com", "a-new-password")
            .await
            .is_some()
    );
    let short = app
        .admin(Method::PUT, &format!("/admin/v1/users/{user}/password"))
        .json(&json!({"password": "short"}))
        .call()
        .await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let admins: Value = app
        .admin_get(&format!("/admin/v1/environments/{env}/admins"))
        .await
        .value()
        .await;
    assert_eq!(
        admins["items"][0]["email"], ADMIN_EMAIL,
        "creator administers the new environment"
    );
    let remove_self = || {
        app.admin(
            Method::DELETE,
            &format!("/admin/v1/environments/{env}/admins/{}", app.admin_user_id),
        )
        .send()
    };
    let response = remove_self().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CONFLICT,
        "the last organization administrator stays"
    );
    assert_eq!(response.value().await["code"], "last_organization_admin");
    let deputy = app.create_user("deputy@example.com", None).await;
    for environment in [env.clone(), app.environment_id.clone()] {
        let response = app
            .admin(
                Method::PUT,
                &format!("/admin/v1/environments/{environment}/admins/{deputy}"),
            )
            .call()
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(
        remove_self().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4();
    for path in [
        format!("/admin/v1/environments/{id}"),
        format!("/admin/v1/accounts/{id}"),
        format!("/admin/v1/users/{id}"),
        format!("/admin/v1/api-users/{id}"),
        format!("/admin/v1/integrator-keys/{id}"),
        "/admin/v1/users/not-a-uuid".to_owned(),
    ] {
        let response = app.admin_get(&path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.value().await["code"], "not_found");
    }
}

#[tokio::test]
async fn integrator_keys_are_created_imported_and_revoked() {
    let app = spawn_app().await;
    let generated = app.create_integrator_key("Generated", None).await;
    assert!(uuid::Uuid::parse_str(&generated.key).is_ok());
    let imported: Value = app
        .admin_post(
            "/admin/v1/integrator-keys",
            json!({"name": "Imported", "key": "YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e"}),
        )
        .await
        .value()
        .await;

    assert_eq!(imported["status"], "active");
    let again = app
        .admin_post(
            "/admin/v1/integrator-keys",
            json!({"name": "Again", "key": "YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e"}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let id = imported["id"].as_str().unwrap();
    let revoked: Value = app
        .admin_post(&format!("/admin/v1/integrator-keys/{id}/revoke"), json!({}))
        .await
        .value()
        .await;
    assert_eq!(revoked["status"], "revoked");
    let list: Value = app
        .admin_get("/admin/v1/integrator-keys")
        .await
        .value()
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn audit_lists_admin_changes_newest_first_with_filters() {
    let app = spawn_app().await;
    app.create_user("audited@example.com", None).await;
    app.create_api_user("AuditedBot", json!({"type": "organization"}))
        .await;
    let visible = app
        .eventually(std::time::Duration::from_secs(5), || async {
            let body: Value = app.admin_get("/admin/v1/audit").await.value().await;
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["action"] == "api_user.create")
        })
        .await;
    assert!(visible);
    let body: Value = app.admin_get("/admin/v1/audit").await.value().await;
    let items = body["items"].as_array().unwrap();
    let ids: Vec<i64> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    let item = items.iter().find(|i| i["action"] == "user.create").unwrap();
    assert_eq!(item["actor"], ADMIN_EMAIL);
    assert_eq!(item["outcome"], "success");
    assert_eq!(item["source_ip"], "127.0.0.1");
    let filtered: Value = app
        .admin_get("/admin/v1/audit?action=user.create")
        .await
        .value()
        .await;
    assert!(
        filtered["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["action"] == "user.create")
    );
    let by_actor: Value = app
        .admin_get("/admin/v1/audit?actor=nobody")
        .await
        .value()
        .await;
    assert!(by_actor["items"].as_array().unwrap().is_empty());
    let future = (app.now() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let since: Value = app
        .admin(Method::GET, "/admin/v1/audit")
        .query(&[("since", future)])
        .call()
        .await
        .value()
        .await;
    assert!(since["items"].as_array().unwrap().is_empty());
    let bad = app.admin_get("/admin/v1/audit?since=yesterday").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn openapi_describes_every_surface() {
    let app = spawn_app().await;
    let document: Value = app.get("/openapi.json").call().await.value().await;
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/api/{version}/authentication/apiUser",
        "/api/{version}/users/{username}/accounts",
        "/api/documentnow/{version}/users/{username}/accounts",
        "/api/{version}/users/{username}/environments",
        "/v1/verify",
        "/v1/whoami",
        "/admin/v1/login",
        "/admin/v1/api-users",
        "/admin/v1/api-users/{id}/rotate",
        "/admin/v1/users/{id}/memberships/{account_id}",
        "/admin/v1/environments/{id}/admins/{user_id}",
        "/admin/v1/audit",
        "/admin/v1/introspection-clients",
        "/admin/v1/introspection-clients/{id}",
        "/v1/introspect",
        "/v1/verify/{original_uri}",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    // Envoy keeps the original method: every one is documented.
    let envoy = paths["/v1/verify/{original_uri}"].as_object().unwrap();
    for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
        assert!(
            envoy.contains_key(method),
            "/v1/verify/{{original_uri}} {method}"
        );
    }
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").call().await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz").call().await.status(), StatusCode::OK);
}

#[tokio::test]
async fn graceful_shutdown_flushes_the_audit_log() {
    let mut app = spawn_app().await;
    for i in 0..50 {
        app.exchange(&format!("nobody-{i}"), "csk_x", "x@example.com")
            .await;
    }
    app.shutdown().await;
    let count = app.store.count_audit_events().await.unwrap();
    assert!(count >= 50, "{count} events after shutdown");
}

/// A second organization administrator, signed in to the admin API.
struct SecondAdmin {
    id: String,
    token: String,
}

async fn second_admin(app: &countersign_test_support::TestApp) -> SecondAdmin {
    let id = app
        .create_user("second@example.com", Some("second-password"))
        .await;
    let response = app
        .admin(
            Method::PUT,
            &format!("/admin/v1/environments/{}/admins/{id}", app.environment_id),
        )
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let token = app
        .login("second@example.com", "second-password")
        .await
        .unwrap();
    assert_eq!(status_listing_users(app, &token).await, StatusCode::OK);
    SecondAdmin { id, token }
}

async fn status_listing_users(app: &countersign_test_support::TestApp, token: &str) -> StatusCode {
    app.get_as(token, "/admin/v1/users").await.status()
}

#[tokio::test]
async fn admin_token_is_refused_after_its_users_password_changes() {
    let app = spawn_app().await;
    let SecondAdmin { id, token } = second_admin(&app).await;
    let response = app
        .admin(Method::PUT, &format!("/admin/v1/users/{id}/password"))
        .json(&json!({"password": "a-newer-password"}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_listing_users(&app, &token).await,
        StatusCode::UNAUTHORIZED
    );
    let fresh = app
        .login("second@example.com", "a-newer-password")
        .await
        .unwrap();
    assert_eq!(status_listing_users(&app, &fresh).await, StatusCode::OK);
}

#[tokio::test]
async fn own_password_change_ends_the_callers_own_session() {
    let app = spawn_app().await;
    let SecondAdmin { id, token } = second_admin(&app).await;
    let response = app
        .put(&format!("/admin/v1/users/{id}/password"))
        .bearer_auth(&token)
        .json(&json!({"password": "a-newer-password"}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_listing_users(&app, &token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admin_token_stays_refused_after_its_user_is_disabled_and_enabled_again() {
    let app = spawn_app().await;
    let SecondAdmin { id, token } = second_admin(&app).await;
    for status in ["disabled", "active"] {
        let response = app
            .admin(Method::PATCH, &format!("/admin/v1/users/{id}"))
            .json(&json!({ "status": status }))
            .call()
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            status_listing_users(&app, &token).await,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn admin_token_is_refused_after_its_user_is_deleted() {
    let app = spawn_app().await;
    let SecondAdmin { id, token } = second_admin(&app).await;
    let response = app
        .admin(Method::DELETE, &format!("/admin/v1/users/{id}"))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_listing_users(&app, &token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.admin_get(&format!("/admin/v1/users/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        app.login("second@example.com", "second-password")
            .await
            .is_none()
    );
    let again = app
        .admin(Method::DELETE, &format!("/admin/v1/users/{id}"))
        .call()
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

//! What was done in my name and ending the sessions acting as me (SPEC §14): for any signed-in
//! user, and by an organization administrator for any user.

use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{CreatedApiUser, TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const BOB: &str = "bob@mycompany.com";
const BOB_PASSWORD: &str = "bob-password-123";

/// An app where Bob (not an administrator, signed in) may be acted for by two API users.
struct World {
    app: TestApp,
    bob_id: String,
    bob_token: String,
    first: CreatedApiUser,
    second: CreatedApiUser,
}

async fn world() -> World {
    let app = spawn_app().await;
    let bob_id = app.create_sender(BOB, Some(BOB_PASSWORD)).await;
    let first = app
        .create_api_user("FirstIntegration", json!({"type": "organization"}))
        .await;
    let second = app
        .create_api_user(
            "SecondIntegration",
            json!({"type": "user", "user_id": bob_id}),
        )
        .await;
    let bob_token = app.login(BOB, BOB_PASSWORD).await.unwrap();
    World {
        app,
        bob_id,
        bob_token,
        first,
        second,
    }
}

impl World {
    async fn post_as(&self, token: &str, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.app.post(path).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.call().await
    }

    async fn activity(&self, token: &str) -> Value {
        let response = self.app.get_as(token, "/admin/v1/me/activity").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.value().await
    }

    async fn works(&self, token: &str) -> bool {
        self.app.verify(token, None).await.status() == StatusCode::OK
    }
}

#[tokio::test]
async fn ending_my_sessions_refuses_earlier_tokens_and_admits_new_ones() {
    let world = world().await;
    let app = &world.app;
    let before = app.token("FirstIntegration", &world.first.key, BOB).await;
    assert!(world.works(&before).await);
    let response = world
        .post_as(&world.bob_token, "/admin/v1/me/sessions/end", None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    let ended = time::OffsetDateTime::parse(
        body["ended_before"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        ended > app.now(),
        "the end lies after the moment it was asked for"
    );
    assert!(
        !world.works(&before).await,
        "a token issued before the end is refused"
    );
    let after = app.token("FirstIntegration", &world.first.key, BOB).await;
    assert!(world.works(&after).await, "a new exchange works again");
    assert_eq!(
        app.whoami(&before, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn two_ends_in_one_second_both_refuse_what_was_issued_before_them() {
    let world = world().await;
    let app = &world.app;
    world
        .post_as(&world.bob_token, "/admin/v1/me/sessions/end", None)
        .await;
    // The test clock stands still: this token is issued in the same second as both ends.
    let between = app.token("FirstIntegration", &world.first.key, BOB).await;
    assert!(world.works(&between).await);
    let response = world
        .post_as(
            &world.bob_token,
            "/admin/v1/me/sessions/end",
            Some(json!({})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!world.works(&between).await);
    let after = app.token("FirstIntegration", &world.first.key, BOB).await;
    assert!(world.works(&after).await);
}

#[tokio::test]
async fn ending_the_sessions_of_one_api_user_spares_the_others() {
    let world = world().await;
    let app = &world.app;
    let first = app.token("FirstIntegration", &world.first.key, BOB).await;
    let second = app.token("SecondIntegration", &world.second.key, BOB).await;
    let response = world
        .post_as(
            &world.bob_token,
            "/admin/v1/me/sessions/end",
            Some(json!({"api_user_id": world.first.id})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!world.works(&first).await);
    assert!(world.works(&second).await);
}

#[tokio::test]
async fn ending_my_sessions_does_not_touch_other_users() {
    let world = world().await;
    let app = &world.app;
    app.create_sender("carol@mycompany.com", None).await;
    let carols = app
        .token("FirstIntegration", &world.first.key, "carol@mycompany.com")
        .await;
    world
        .post_as(&world.bob_token, "/admin/v1/me/sessions/end", None)
        .await;
    assert!(world.works(&carols).await);
}

#[tokio::test]
async fn an_administrator_ends_the_sessions_acting_as_any_user() {
    let world = world().await;
    let app = &world.app;
    let token = app.token("FirstIntegration", &world.first.key, BOB).await;
    let path = format!("/admin/v1/users/{}/sessions/end", world.bob_id);
    let refused = world.post_as(&world.bob_token, &path, None).await;
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "Bob administers nothing"
    );
    assert!(world.works(&token).await);
    let response = world.post_as(&app.admin_token, &path, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!world.works(&token).await);
    let unknown = world
        .post_as(
            &app.admin_token,
            "/admin/v1/users/0190b5f0-0000-7000-8000-000000000000/sessions/end",
            None,
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ending_sessions_refuses_what_it_cannot_read() {
    let world = world().await;
    let path = "/admin/v1/me/sessions/end";
    let cases = [
        (
            json!({"api_user_id": "not-an-id"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"api_user_id": "0190b5f0-0000-7000-8000-000000000000"}),
            StatusCode::NOT_FOUND,
        ),
        (json!({"api_users": []}), StatusCode::BAD_REQUEST),
        (json!([]), StatusCode::BAD_REQUEST),
    ];
    for (body, status) in cases {
        let response = world
            .post_as(&world.bob_token, path, Some(body.clone()))
            .await;
        assert_eq!(response.status(), status, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let text = world
        .app
        .post(path)
        .bearer_auth(&world.bob_token)
        .body("api_user_id=x")
        .call()
        .await;
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let anonymous = world.app.post(path).call().await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn my_activity_shows_tokens_issued_as_me_and_changes_to_my_account() {
    let world = world().await;
    let app = &world.app;
    app.token("FirstIntegration", &world.first.key, BOB).await;
    let refused = app
        .exchange(
            "SecondIntegration",
            &world.second.key,
            "carol@mycompany.com",
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "carol is nobody");
    world
        .post_as(&world.bob_token, "/admin/v1/me/sessions/end", None)
        .await;
    let items = app
        .eventually_some(Duration::from_secs(10), || async {
            let items = world.activity(&world.bob_token).await["items"].clone();
            let actions: Vec<&str> = items
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["action"].as_str().unwrap())
                .collect();
            (actions.contains(&"token.issue")
                && actions.contains(&"user.sessions_end")
                && actions.contains(&"membership.put")
                && actions.contains(&"user.create"))
            .then_some(items)
        })
        .await
        .expect("the token, the end, the membership and the creation are Bob's activity");
    let items = items.as_array().unwrap();
    let issued = items.iter().find(|i| i["action"] == "token.issue").unwrap();
    assert_eq!(issued["via"], "api_user_token");
    assert_eq!(issued["api_user"], "FirstIntegration");
    assert_eq!(issued["actor"], "FirstIntegration");
    assert_eq!(issued["outcome"], "success");
    assert!(issued["at"].as_str().unwrap().ends_with('Z'));
    let membership = items
        .iter()
        .find(|i| i["action"] == "membership.put")
        .unwrap();
    assert_eq!(membership["via"], "admin");
    assert_eq!(membership["actor"], countersign_test_support::ADMIN_EMAIL);
    assert!(membership.get("api_user").is_none());
    // Nothing about anyone else: the administrator's own sign-in is not Bob's activity.
    assert!(
        items
            .iter()
            .all(|i| i["action"] != "admin.login" || i["actor"] == BOB)
    );
}

#[tokio::test]
async fn my_activity_shows_on_behalf_of_requests_as_me() {
    let world = world().await;
    let app = &world.app;
    let admin = app.admin_user_id.clone();
    app.put_membership(
        &admin,
        &app.account_id.clone(),
        &["send", "sobo", "account_wide"],
        true,
    )
    .await;
    let key = app.create_integrator_key("Legacy", None).await.key;
    let header = json!({
        "Username": countersign_test_support::ADMIN_EMAIL,
        "Password": countersign_test_support::ADMIN_PASSWORD,
        "IntegratorKey": key,
        "SendOnBehalfOf": BOB,
    })
    .to_string();
    let response = app.verify_legacy(header).await;
    assert_eq!(response.status(), StatusCode::OK);
    let items = app
        .eventually_some(Duration::from_secs(10), || async {
            let items = world.activity(&world.bob_token).await["items"].clone();
            items
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["via"] == "legacy_header_sobo")
                .then_some(items)
        })
        .await
        .expect("the on-behalf-of requests are Bob's activity");
    let sobo = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["via"] == "legacy_header_sobo")
        .unwrap();
    assert_eq!(sobo["actor"], countersign_test_support::ADMIN_EMAIL);
    assert_eq!(sobo["action"], "legacy.sobo");
}

#[tokio::test]
async fn my_activity_needs_a_signed_in_user_and_pages() {
    let world = world().await;
    let app = &world.app;
    let anonymous = app.get("/admin/v1/me/activity").call().await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    for _ in 0..3 {
        app.token("FirstIntegration", &world.first.key, BOB).await;
    }
    let first_page = app
        .eventually_some(Duration::from_secs(10), || async {
            let response = app
                .get_as(&world.bob_token, "/admin/v1/me/activity?limit=2")
                .await;
            let page: Value = response.value().await;
            page["next_cursor"].is_string().then_some(page)
        })
        .await
        .expect("more than one page of activity");
    assert_eq!(first_page["items"].as_array().unwrap().len(), 2);
    let bad = app
        .get_as(&world.bob_token, "/admin/v1/me/activity?limit=0")
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_empty_body_with_a_json_content_type_ends_every_session() {
    let world = world().await;
    let app = &world.app;
    let token = app.token("FirstIntegration", &world.first.key, BOB).await;
    let response = app
        .post("/admin/v1/me/sessions/end")
        .bearer_auth(&world.bob_token)
        .header("Content-Type", "application/json")
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!world.works(&token).await);
}

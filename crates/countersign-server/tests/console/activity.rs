//! "My activity" in the console (SPEC §14): any signed-in user, administrator or not, sees what
//! was done in their name and ends the sessions acting as them; an administrator ends a user's
//! sessions from the user's page, and sees the leaked-key banner until dismissing it.

use crate::support::{ConsoleClient, csrf_token, location};
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{CreatedApiUser, TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

pub const BOB: &str = "bob@example.com";
pub const BOB_PASSWORD: &str = "bob's password 123";

/// Bob (administers nothing, has a password) and an API user that may act for him.
pub async fn bob_and_integration(app: &TestApp) -> (String, CreatedApiUser) {
    let bob = app.create_sender(BOB, Some(BOB_PASSWORD)).await;
    let api_user = app
        .create_api_user("Integration", json!({"type": "organization"}))
        .await;
    (bob, api_user)
}

#[tokio::test]
async fn a_user_who_administers_nothing_sees_my_activity_and_ends_the_sessions_acting_as_them() {
    let app = spawn_app().await;
    let (_, api_user) = bob_and_integration(&app).await;
    let token = app.token("Integration", &api_user.key, BOB).await;
    let console = ConsoleClient::new(&app);
    console.sign_in_as(BOB, BOB_PASSWORD).await;
    let forbidden = console.get("/console/api-users").await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert!(
        forbidden
            .body()
            .await
            .contains("href=\"/console/me/activity\"")
    );
    let page = app
        .eventually_some(Duration::from_secs(10), || async {
            let page = console.page("/console/me/activity").await;
            page.contains("token.issue").then_some(page)
        })
        .await
        .expect("the token issued as Bob is on his page");
    assert!(page.contains("data-page=\"my-activity\""));
    assert!(page.contains("API user session"));
    assert!(page.contains("<option value=\"\">Every API user</option>"));
    assert!(page.contains(&format!(
        "<option value=\"{}\">Integration</option>",
        api_user.id
    )));
    assert!(
        !page.contains("aria-label=\"Console sections\""),
        "no administrator navigation"
    );

    let refused = console
        .post("/console/me/sessions/end", &[("api_user_id", "")])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "no CSRF token");
    assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);

    let csrf = csrf_token(&page);
    let ended = console
        .post(
            "/console/me/sessions/end",
            &[("csrf_token", &csrf), ("api_user_id", &api_user.id)],
        )
        .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&ended), "/console/me/activity?done=sessions_ended");
    assert_eq!(
        app.verify(&token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let notice = console
        .page("/console/me/activity?done=sessions_ended")
        .await;
    assert!(notice.contains("Sessions acting as you were ended"));
    let fresh = app.token("Integration", &api_user.key, BOB).await;
    assert_eq!(app.verify(&fresh, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_administrator_ends_the_sessions_acting_as_a_user_from_the_user_page() {
    let app = spawn_app().await;
    let (bob, api_user) = bob_and_integration(&app).await;
    let token = app.token("Integration", &api_user.key, BOB).await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let page = console.page(&format!("/console/users/{bob}")).await;
    assert!(page.contains("End sessions acting as this user"));
    let ended = console
        .post(
            &format!("/console/users/{bob}/sessions/end"),
            &[("csrf_token", &csrf_token(&page))],
        )
        .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&ended),
        format!("/console/users/{bob}?done=sessions_ended")
    );
    assert_eq!(
        app.verify(&token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_leaked_key_shows_a_banner_to_administrators_until_dismissed() {
    let app = spawn_app().await;
    let (_, api_user) = bob_and_integration(&app).await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let before = console.page("/console/api-users").await;
    assert!(!before.contains("leak-banner"));
    let report = app.post("/v1/credentials/leaked")
        .json(&json!([{"token": api_user.key, "type": "countersign_api_key", "url": "https://github.com/octo/app/blob/main/.env", "source": "content"}]))
        .call().await;
    assert_eq!(report.status(), StatusCode::OK);
    for path in ["/console/api-users", "/console/users", "/console/audit"] {
        let page = console.page(path).await;
        assert!(page.contains("API keys were reported leaked"), "{path}");
        assert!(page.contains("Integration"), "{path}");
        assert!(
            page.contains("https://github.com/octo/app/blob/main/.env"),
            "{path}"
        );
        assert!(page.contains("the API user is revoked"), "{path}");
    }
    // Bob administers nothing: no banner for him.
    let bob = ConsoleClient::new(&app);
    bob.sign_in_as(BOB, BOB_PASSWORD).await;
    assert!(
        !bob.page("/console/me/activity")
            .await
            .contains("leak-banner")
    );
    let page = console.page("/console/api-users").await;
    let dismissed = console
        .post(
            "/console/leak-reports/dismiss",
            &[("csrf_token", &csrf_token(&page))],
        )
        .await;
    assert_eq!(dismissed.status(), StatusCode::SEE_OTHER);
    assert!(
        !console
            .page("/console/api-users")
            .await
            .contains("leak-banner")
    );
}

/// A page link this page never handed out (not a number, negative, or past the largest one) is
/// refused with the console's 400 page, never read as "from the start" nor answered 500.
#[tokio::test]
async fn a_damaged_activity_page_link_is_refused() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    for cursor in ["abc", "", "-5", "99999999999999999999"] {
        let response = console
            .get(&format!("/console/me/activity?cursor={cursor}"))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "cursor {cursor:?}"
        );
    }
    let first = console.get("/console/me/activity").await;
    assert_eq!(first.status(), StatusCode::OK);
}

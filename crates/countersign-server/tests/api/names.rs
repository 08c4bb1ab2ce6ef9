//! Names that look alike (SPEC §2): API usernames installation-wide and user emails per
//! organization refuse invisible and direction-changing characters (400) and collide by their
//! confusable skeleton (409).

use countersign_core::api_user::Scope;
use countersign_server::ops::OpError;
use countersign_test_support::Read as _;
use countersign_test_support::{TestApp, spawn_app};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

async fn post_api_user(app: &TestApp, username: &str) -> Response {
    let expires_at = (app.now() + time::Duration::days(3))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    app.admin_post(
        "/admin/v1/api-users",
        json!({"username": username, "scope": {"type": "organization"}, "expires_at": expires_at}),
    )
    .await
}

async fn post_user(app: &TestApp, email: &str) -> Response {
    app.admin_post(
        "/admin/v1/users",
        json!({"email": email, "name": "Someone"}),
    )
    .await
}

async fn assert_refused(response: Response, status: StatusCode, code: &str, what: &str) {
    assert_eq!(response.status(), status, "{what}");
    let body: Value = response.value().await;
    assert_eq!(body["code"], code, "{what}");
}

#[tokio::test]
async fn api_usernames_with_invisible_or_bidi_characters_or_outer_spaces_are_refused_with_400() {
    let app = spawn_app().await;
    for username in [
        "svc-reports\u{200B}",
        "\u{200B}svc-reports",
        "svc-reports\u{202E}",
        "svc\u{00AD}-reports",
        "svc-\u{2066}reports",
        "svc\u{FEFF}-reports",
        " svc-reports",
        "svc-reports ",
        "svc-reports\u{3000}",
    ] {
        assert_refused(
            post_api_user(&app, username).await,
            StatusCode::BAD_REQUEST,
            "unreadable_name",
            &format!("{username:?}"),
        )
        .await;
    }
    assert_eq!(
        post_api_user(&app, "svc-reports").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn api_usernames_that_look_like_an_existing_one_are_refused_with_409() {
    let app = spawn_app().await;
    assert_eq!(
        post_api_user(&app, "svc-reports").await.status(),
        StatusCode::CREATED
    );
    for username in [
        "sv\u{0441}-reports",
        "\u{0455}vc-reports",
        "ｓｖｃ－ｒｅｐｏｒｔｓ",
        "\u{017F}vc-reports",
        "SVC-REPORTS",
    ] {
        assert_refused(
            post_api_user(&app, username).await,
            StatusCode::CONFLICT,
            "username_taken",
            username,
        )
        .await;
    }
    assert_eq!(
        post_api_user(&app, "svc-reports-2").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn api_usernames_look_alike_across_organizations_but_emails_only_within_one() {
    let app = spawn_app().await;
    assert_eq!(
        post_api_user(&app, "svc-reports").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        post_user(&app, "bob@example.com").await.status(),
        StatusCode::CREATED
    );
    let other = app.second_organization("Second organization").await;
    let expires_at = app.now() + time::Duration::days(3);
    let (taken, elsewhere) = app
        .with_ops(&other, move |ops, actor| async move {
            let taken = ops
                .create_api_user(
                    &actor,
                    "svc-rep\u{043E}rts",
                    Scope::Organization,
                    expires_at,
                    None,
                )
                .await;
            let elsewhere = ops
                .create_user(&actor, "b\u{043E}b@example.com", "Bob elsewhere", None)
                .await;
            (taken.map(|_| ()), elsewhere.map(|_| ()))
        })
        .await;
    assert!(
        matches!(
            taken,
            Err(OpError::Conflict {
                code: "username_taken",
                ..
            })
        ),
        "{taken:?}"
    );
    elsewhere.unwrap();
}

#[tokio::test]
async fn user_emails_with_zero_width_space_or_soft_hyphen_are_refused_with_400() {
    let app = spawn_app().await;
    for email in [
        "bob\u{200B}@example.com",
        "bob@exa\u{00AD}mple.com",
        "\u{200B}bob@example.com",
        "bob@example.com\u{202E}",
        " bob@example.com",
        "bob@example.com ",
    ] {
        assert_refused(
            post_user(&app, email).await,
            StatusCode::BAD_REQUEST,
            "unreadable_name",
            &format!("{email:?}"),
        )
        .await;
    }
    assert_eq!(
        post_user(&app, "bob@example.com").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn user_emails_that_look_like_an_existing_one_are_refused_with_409() {
    let app = spawn_app().await;
    assert_eq!(
        post_user(&app, "bob@example.com").await.status(),
        StatusCode::CREATED
    );
    for email in [
        "b\u{043E}b@example.com",
        "bob@ex\u{0430}mple.com",
        "ｂｏｂ@example.com",
        "BOB@EXAMPLE.COM",
    ] {
        assert_refused(
            post_user(&app, email).await,
            StatusCode::CONFLICT,
            "email_taken",
            email,
        )
        .await;
    }
    assert_eq!(
        post_user(&app, "bob2@example.com").await.status(),
        StatusCode::CREATED
    );
}

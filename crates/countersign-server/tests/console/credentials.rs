//! The credentials and webhooks pages over plain HTTP: the report with its findings and CSV,
//! the policy form, a webhook's secret shown once, refused URLs next to their field, and the
//! delivery log.

use crate::support::{ConsoleClient, csrf_token, value_of_id};
use countersign_test_support::Read as _;
use countersign_test_support::spawn_app;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn credential_page_shows_findings_and_saves_the_policy() {
    let app = spawn_app().await;
    app.create_api_user("report-bot", json!({"type": "organization"}))
        .await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let page = console.page("/console/credentials").await;
    assert!(page.contains("report-bot"), "{page}");
    assert!(page.contains("data-finding=\"never_used\""));
    assert!(page.contains("data-finding=\"expires_soon\""));
    let csv = console.get("/console/credential-report.csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.body().await.contains("\"report-bot\""));

    let token = csrf_token(&page);
    let bad = console
        .post(
            "/console/organization/policy",
            &[
                ("csrf_token", &token),
                ("api_user_max_lifetime_days", "5000"),
                ("api_user_unused_revoke_days", ""),
                ("expiry_warning_days", "30, 7"),
                ("leak_response", "revoke"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad_page = bad.body().await;
    assert!(
        bad_page.contains("api_user_max_lifetime_days-error"),
        "{bad_page}"
    );

    let saved = console
        .post(
            "/console/organization/policy",
            &[
                ("csrf_token", &token),
                ("api_user_max_lifetime_days", "90"),
                ("api_user_unused_revoke_days", "60"),
                ("expiry_warning_days", "14, 2"),
                ("leak_response", "notify"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let organization: Value = app.admin_get("/admin/v1/organization").await.value().await;
    assert_eq!(organization["api_user_max_lifetime_days"], 90);
    assert_eq!(organization["api_user_unused_revoke_days"], 60);
    assert_eq!(organization["expiry_warning_days"], json!([14, 2]));
    assert_eq!(organization["leak_response"], "notify");

    let forged = console
        .post(
            "/console/organization/policy",
            &[("csrf_token", "wrong"), ("api_user_max_lifetime_days", "1")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn webhook_secret_is_shown_once_and_refused_urls_are_explained() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let token = console.csrf("/console/webhooks").await;
    let refused = console
        .post(
            "/console/webhooks",
            &[
                ("csrf_token", &token),
                ("url", "https://10.0.0.7/hook"),
                ("events", "api_user.revoked"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.body().await;
    assert!(page.contains("url-error"), "{page}");

    let created = console
        .post(
            "/console/webhooks",
            &[
                ("csrf_token", &token),
                ("url", "https://hooks.example.com/countersign"),
                ("events", "api_user.revoked"),
                ("events", "api_user.expired"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let page = created.body().await;
    let secret = value_of_id(&page, "webhook-secret").unwrap();
    assert!(secret.starts_with("whsec_"));
    let list = console.page("/console/webhooks").await;
    assert!(list.contains("https://hooks.example.com/countersign"));
    assert!(!list.contains(&secret));
    let webhooks: Value = app.admin_get("/admin/v1/webhooks").await.value().await;
    let id = webhooks["items"][0]["id"].as_str().unwrap();
    assert_eq!(
        webhooks["items"][0]["events"],
        json!(["api_user.expired", "api_user.revoked"])
    );
    let deliveries = console.page(&format!("/console/webhooks/{id}")).await;
    assert!(deliveries.contains("Nothing delivered yet"), "{deliveries}");
    let token = csrf_token(&list);
    let confirm = console
        .post(
            &format!("/console/webhooks/{id}/delete"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(confirm.status(), StatusCode::OK);
    assert!(confirm.body().await.contains("Delete webhook"));
    let deleted = console
        .post(
            &format!("/console/webhooks/{id}/delete"),
            &[("csrf_token", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.admin_get(&format!("/admin/v1/webhooks/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

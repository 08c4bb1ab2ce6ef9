//! End to end in headless Chromium: an administrator reads the credential report, tightens
//! the credential policy through its form, and registers a webhook whose signing secret is
//! shown once and read from the page; every input is labelled and the pages fit a phone.

use crate::support::Browser;
use countersign_test_support::Read as _;
use countersign_test_support::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app};
use serde_json::{Value, json};

#[tokio::test]
async fn browser_admin_reads_the_credential_report_sets_the_policy_and_adds_a_webhook() {
    let app = spawn_app().await;
    // Expiring beyond every warning mark: no event is due, so the webhook below (which takes
    // every event type) is never called.
    let expires_at = (app.now() + time::Duration::days(100))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let created = app
        .admin_post(
            "/admin/v1/api-users",
            json!({"username": "hygiene-bot", "scope": {"type": "organization"}, "expires_at": expires_at}),
        )
        .await;
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let Some(browser) = Browser::start("browser_admin_reads_the_credential_report").await else {
        return;
    };
    browser.sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.wait_for_page("api-users").await;

    browser
        .navigate("/console/credentials", "credentials")
        .await;
    let row = browser
        .wait_for_text("#credential-report tbody", |text| {
            text.contains("hygiene-bot")
        })
        .await;
    assert!(row.contains("Never used"), "{row}");
    browser
        .check_page("credentials page", "credentials.png")
        .await;
    browser.fill("api_user_max_lifetime_days", "120").await;
    browser.fill("expiry_warning_days", "21, 3").await;
    browser
        .click("#credential-policy button[type=submit]")
        .await;
    browser.wait_for_url("done=policy").await;
    let organization: Value = app.admin_get("/admin/v1/organization").await.value().await;
    assert_eq!(organization["api_user_max_lifetime_days"], 120);
    assert_eq!(organization["expiry_warning_days"], json!([21, 3]));

    browser.navigate("/console/webhooks", "webhooks").await;
    browser.assert_inputs_labelled("webhooks page").await;
    browser
        .fill("url", "https://hooks.example.com/countersign")
        .await;
    browser.click("#create-webhook button[type=submit]").await;
    browser.wait_for_page("webhook-secret").await;
    let secret = browser
        .client
        .find(fantoccini::Locator::Id("webhook-secret"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(standardwebhooks::Webhook::new(&secret).is_ok());
    browser.screenshot("webhook-secret.png").await;
    browser.open(&app, "/console/webhooks", "webhooks").await;
    let list = browser
        .wait_for_text("#webhooks", |text| text.contains("hooks.example.com"))
        .await;
    assert!(!list.contains(&secret));
    browser.close().await;
}

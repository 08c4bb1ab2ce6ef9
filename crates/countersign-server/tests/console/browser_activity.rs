//! In headless Chromium: a user who administers nothing signs in, reads "My activity" and ends
//! the sessions acting as them; an administrator sees the leaked-key banner. Screenshots of
//! both pages are saved (see `support::screenshot_dir`).

use crate::activity::{BOB, BOB_PASSWORD, bob_and_integration};
use crate::support::Browser;
use countersign_test_support::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app};
use countersign_test_support::{Call as _, Read as _};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn browser_user_reads_my_activity_and_ends_the_sessions_acting_as_them() {
    let app = spawn_app().await;
    let (_, api_user) = bob_and_integration(&app).await;
    let token = app.token("Integration", &api_user.key, BOB).await;
    // The issuance reaches the audit log in a batch; the page shows it once it is there.
    let audited = app
        .eventually(Duration::from_secs(10), || async {
            let events: serde_json::Value = app
                .admin_get("/admin/v1/audit?action=token.issue")
                .await
                .value()
                .await;
            !events["items"].as_array().unwrap().is_empty()
        })
        .await;
    assert!(audited);
    let Some(browser) = Browser::start("browser_user_reads_my_activity").await else {
        return;
    };
    browser.sign_in(&app, BOB, BOB_PASSWORD).await;
    browser.wait_for_page("not-admin").await;
    browser.click("main a[href=\"/console/me/activity\"]").await;
    browser.wait_for_page("my-activity").await;
    browser
        .wait_for_text("#activity tbody", |text| text.contains("token.issue"))
        .await;
    let how = browser
        .wait_for_text("#activity tbody", |text| text.contains("API user session"))
        .await;
    assert!(how.contains("Integration"), "{how}");
    browser.assert_inputs_labelled("my activity").await;
    browser.screenshot("my-activity.png").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser
        .assert_fits_width("my activity at phone width")
        .await;
    browser.client.set_window_size(1280, 900).await.unwrap();
    browser
        .client
        .find(fantoccini::Locator::Id("api_user_id"))
        .await
        .unwrap()
        .select_by_value(&api_user.id)
        .await
        .unwrap();
    browser
        .click("form[action=\"/console/me/sessions/end\"] button[type=submit]")
        .await;
    browser.wait_for_url("done=sessions_ended").await;
    browser
        .wait_for_text("[role=status], .notice", |text| {
            text.contains("Sessions acting as you were ended")
        })
        .await;
    assert_eq!(
        app.verify(&token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    browser.close().await;
}

#[tokio::test]
async fn browser_admin_sees_the_leaked_key_banner_and_dismisses_it() {
    let app = spawn_app().await;
    let (_, api_user) = bob_and_integration(&app).await;
    let report = app.post("/v1/credentials/leaked")
        .json(&json!([{"token": api_user.key, "type": "countersign_api_key", "url": "https://github.com/octo/app/blob/main/.env", "source": "content"}]))
        .call().await;
    assert_eq!(report.status(), StatusCode::OK);
    let Some(browser) = Browser::start("browser_admin_sees_the_leaked_key_banner").await else {
        return;
    };
    browser.sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.wait_for_page("api-users").await;
    let banner = browser
        .wait_for_text(".leak-banner", |text| text.contains("Integration"))
        .await;
    assert!(banner.contains("API keys were reported leaked"), "{banner}");
    assert!(banner.contains("the API user is revoked"), "{banner}");
    browser.screenshot("leak-banner.png").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser
        .assert_fits_width("the leak banner at phone width")
        .await;
    browser.client.set_window_size(1280, 900).await.unwrap();
    browser.click(".leak-banner button[type=submit]").await;
    let gone = app
        .eventually(Duration::from_secs(20), || async {
            browser
                .client
                .current_url()
                .await
                .is_ok_and(|url| url.path() == "/console/api-users")
                && browser
                    .client
                    .find_all(fantoccini::Locator::Css(".leak-banner"))
                    .await
                    .is_ok_and(|found| found.is_empty())
        })
        .await;
    assert!(gone, "the banner is dismissed");
    browser.close().await;
}

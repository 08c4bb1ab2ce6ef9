//! End to end in headless Chromium: an administrator signs in, creates API users of every
//! scope, copies each key from the page and exchanges it for a working token, revokes one and
//! sees its token refused, finds it again with the inactive toggle, and a forged form without
//! the CSRF token is refused; then the directory pages and the audit log, at desktop and phone
//! widths. Screenshots of the main pages are saved (see `support::screenshot_dir`).

use crate::support::{Browser, api_user};
use countersign_test_support::Read as _;
use countersign_test_support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app};
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::Value;

/// Signs in through the form as the bootstrap administrator.
async fn sign_in(browser: &Browser, app: &TestApp) {
    browser.sign_in(app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.wait_for_page("api-users").await;
}

/// Fills and submits the create form; returns the key read from the page.
async fn create_api_user(
    browser: &Browser,
    username: &str,
    scope: &str,
    target: Option<(&str, &str)>,
    screenshot: Option<&str>,
) -> String {
    browser.fill("username", username).await;
    browser.click(&format!("#scope-{scope}")).await;
    if let Some((select, value)) = target {
        let picker = browser.client.find(Locator::Id(select)).await.unwrap();
        assert!(
            picker.is_displayed().await.unwrap(),
            "the {select} picker shows once its scope is chosen"
        );
        picker.select_by_value(value).await.unwrap();
    }
    if let Some(name) = screenshot {
        browser.screenshot(name).await;
    }
    browser.click("#create-api-user button[type=submit]").await;
    browser.wait_for_page("api-user-key").await;
    let warning = browser.text(Locator::Css("[role=alert]")).await;
    assert!(warning.contains("It will not be shown again"), "{warning}");
    let key = browser
        .client
        .find(Locator::Id("new-key"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(key.starts_with("csk_"), "{key}");
    // The copy button is revealed by the script and reports what it did.
    browser.click("button[data-copy=\"new-key\"]").await;
    browser
        .wait_for_text("button[data-copy=\"new-key\"]", |t| {
            t == "Copied" || t.starts_with("Selected")
        })
        .await;
    key
}

async fn back_to_list(browser: &Browser) {
    browser
        .click("a.button.primary[href=\"/console/api-users\"]")
        .await;
    browser.wait_for_page("api-users").await;
}

async fn token_works(app: &TestApp, username: &str, key: &str) -> String {
    let token = app.token(username, key, "alice@example.com").await;
    assert_eq!(app.verify(&token, None).await.status(), StatusCode::OK);
    token
}

#[tokio::test]
async fn browser_admin_creates_api_users_of_each_scope_and_revoked_token_is_refused() {
    let app = spawn_app().await;
    let alice = app.create_sender("alice@example.com", None).await;
    let Some(browser) = Browser::start("browser_admin_creates_api_users").await else {
        return;
    };
    browser.open(&app, "/console", "sign-in").await;
    browser.screenshot("sign-in.png").await;
    sign_in(&browser, &app).await;

    // One API user of each scope; every key works for a token that /v1/verify accepts.
    let user_key = create_api_user(
        &browser,
        "user-scope-bot",
        "user",
        Some(("scope_user", &alice)),
        Some("api-users-create.png"),
    )
    .await;
    browser.screenshot("api-user-key.png").await;
    let user_token = token_works(&app, "user-scope-bot", &user_key).await;
    back_to_list(&browser).await;
    let environment_key = create_api_user(
        &browser,
        "environment-scope-bot",
        "environment",
        Some(("scope_environment", &app.environment_id)),
        None,
    )
    .await;
    token_works(&app, "environment-scope-bot", &environment_key).await;
    back_to_list(&browser).await;
    let organization_key = create_api_user(
        &browser,
        "organization-scope-bot",
        "organization",
        None,
        None,
    )
    .await;
    let organization_token = token_works(&app, "organization-scope-bot", &organization_key).await;
    back_to_list(&browser).await;
    for username in [
        "user-scope-bot",
        "environment-scope-bot",
        "organization-scope-bot",
    ] {
        browser
            .client
            .find(Locator::Css(&format!("tr[data-username=\"{username}\"]")))
            .await
            .unwrap_or_else(|_| panic!("{username} is listed"));
    }
    browser.screenshot("api-users.png").await;
    browser.assert_inputs_labelled("API users").await;

    // Revoke through the confirmation dialog; the token is refused at once.
    browser
        .click("tr[data-username=\"user-scope-bot\"] form[action$=\"/revoke\"] button")
        .await;
    let question = browser.client.get_alert_text().await.unwrap();
    assert!(question.contains("Revoke the API user"), "{question}");
    browser.client.accept_alert().await.unwrap();
    browser.wait_for_url("done=revoked").await;
    assert_eq!(
        app.verify(&user_token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.verify(&organization_token, None).await.status(),
        StatusCode::OK
    );
    assert!(
        browser
            .client
            .find(Locator::Css("tr[data-username=\"user-scope-bot\"]"))
            .await
            .is_err(),
        "a revoked API user is hidden by default"
    );

    // Dismissing the dialog changes nothing.
    browser
        .click("tr[data-username=\"organization-scope-bot\"] form[action$=\"/delete\"] button")
        .await;
    browser.client.dismiss_alert().await.unwrap();
    assert_eq!(
        api_user(&app, "organization-scope-bot").await.unwrap()["status"],
        "active"
    );

    // The toggle shows revoked and expired API users.
    browser.click("#show-inactive").await;
    browser.wait_for_url("inactive=1").await;
    let row = browser
        .wait_for_text("tr[data-username=\"user-scope-bot\"]", |t| {
            t.contains("Revoked")
        })
        .await;
    assert!(row.contains("alice@example.com"), "{row}");
    browser.screenshot("api-users-inactive.png").await;

    // Rotate with a grace period; the new key is shown once.
    browser.open(&app, "/console/api-users", "api-users").await;
    browser
        .click("tr[data-username=\"environment-scope-bot\"] a[href$=\"/rotate\"]")
        .await;
    browser.wait_for_page("rotate").await;
    browser
        .client
        .find(Locator::Id("grace_minutes"))
        .await
        .unwrap()
        .select_by_value("0")
        .await
        .unwrap();
    browser
        .click("form[action$=\"/rotate\"] button[type=submit]")
        .await;
    browser.wait_for_page("api-user-key").await;
    let rotated = browser
        .client
        .find(Locator::Id("new-key"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(rotated, environment_key);
    token_works(&app, "environment-scope-bot", &rotated).await;
    assert_eq!(
        app.exchange(
            "environment-scope-bot",
            &environment_key,
            "alice@example.com"
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );

    // A forged form without the CSRF token is refused and creates nothing.
    let expires = crate::support::date_in(&app, 30);
    browser
        .client
        .execute(
            "const form = document.createElement('form');
             form.method = 'post';
             form.action = '/console/api-users';
             for (const [name, value] of [['username', 'forged-bot'], ['scope', 'organization'], ['expires_at', arguments[0]]]) {
               const input = document.createElement('input');
               input.type = 'hidden'; input.name = name; input.value = value;
               form.appendChild(input);
             }
             document.body.appendChild(form);
             form.submit();",
            vec![Value::String(expires)],
        )
        .await
        .unwrap();
    browser.wait_for_page("forbidden").await;
    let text = browser.text(Locator::Css("main")).await;
    assert!(text.contains("Nothing was changed"), "{text}");
    assert!(api_user(&app, "forged-bot").await.is_none());

    // A form on another site is not even sent the session cookie (SameSite=Strict).
    let attacker = format!(
        "data:text/html,<form id=f method=post action=\"{}\">\
         <input name=username value=cross-site-bot><input name=scope value=organization>\
         <input name=expires_at value={}></form>",
        app.url("/console/api-users"),
        crate::support::date_in(&app, 30)
    );
    browser.client.goto(&attacker).await.unwrap();
    browser
        .client
        .execute("document.getElementById('f').submit();", vec![])
        .await
        .unwrap();
    browser.wait_for_page("sign-in").await;
    assert!(api_user(&app, "cross-site-bot").await.is_none());
    browser.open(&app, "/console/api-users", "api-users").await;

    // Phone width: no horizontal overflow.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser
        .open(&app, "/console/api-users?inactive=1", "api-users")
        .await;
    browser.assert_fits_width("API users at 390 px").await;
    browser.screenshot("api-users-phone.png").await;

    // Sign out ends the session: the console asks to sign in again.
    browser
        .click("form[action=\"/console/sign-out\"] button")
        .await;
    browser.wait_for_page("sign-in").await;
    browser.open(&app, "/console/api-users", "sign-in").await;
    browser.close().await;
}

#[tokio::test]
async fn browser_admin_manages_users_memberships_environments_and_reads_the_audit_log() {
    let app = spawn_app().await;
    let Some(browser) = Browser::start("browser_admin_manages_users").await else {
        return;
    };
    sign_in(&browser, &app).await;

    // Create a user; the console goes to their page to grant memberships.
    browser.navigate("/console/users", "users").await;
    browser.fill("email", "carol@example.com").await;
    browser.fill("name", "Carol Example").await;
    browser.fill("password", "carol's password").await;
    browser
        .click("form[action=\"/console/users\"] button[type=submit]")
        .await;
    browser.wait_for_page("user").await;
    let account = app.account_id.clone();
    for permission in ["send", "sobo", "account_wide", "default"] {
        browser.click(&format!("#m-{account}-{permission}")).await;
    }
    browser
        .click(&format!("#account-{account} button[type=submit]"))
        .await;
    browser.wait_for_url("done=membership_saved").await;
    let carol: Value = app
        .admin_get("/admin/v1/users?limit=1000")
        .await
        .value()
        .await;
    let carol_id = carol["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "carol@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user: Value = app
        .admin_get(&format!("/admin/v1/users/{carol_id}"))
        .await
        .value()
        .await;
    let membership = &user["memberships"][0];
    assert_eq!(membership["is_default"], true);
    let mut permissions: Vec<&str> = membership["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    permissions.sort_unstable();
    assert_eq!(permissions, ["account_wide", "send", "sobo"]);
    browser
        .client
        .execute("window.scrollTo(0, 0);", vec![])
        .await
        .unwrap();
    browser.screenshot("user-memberships.png").await;
    browser.assert_inputs_labelled("user page").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.assert_fits_width("user page at 390 px").await;
    browser.client.set_window_size(1280, 900).await.unwrap();

    browser.navigate("/console/users", "users").await;
    browser.screenshot("users.png").await;

    // Environments: create one and make Carol its administrator.
    browser
        .navigate("/console/environments", "environments")
        .await;
    browser.fill("name", "Sandbox").await;
    browser
        .client
        .find(Locator::Id("kind"))
        .await
        .unwrap()
        .select_by_value("sandbox")
        .await
        .unwrap();
    browser
        .click("form[action=\"/console/environments\"] button[type=submit]")
        .await;
    browser.wait_for_url("done=created").await;
    let card = browser
        .wait_for_text("article.card:last-of-type h3", |t| t.contains("Sandbox"))
        .await;
    assert!(card.contains("sandbox"));
    browser
        .click("article.card:last-of-type form[action$=\"/admins\"] button")
        .await;
    browser.wait_for_url("done=admin_added").await;
    browser
        .wait_for_text("article.card:last-of-type ul.plain", |t| {
            t.contains("carol@example.com")
        })
        .await;
    browser.screenshot("environments.png").await;
    browser.assert_inputs_labelled("environments").await;

    // Accounts: the context identifier has a copy button.
    browser.navigate("/console/accounts", "accounts").await;
    let context = browser
        .text(Locator::Id(&format!("context-{account}")))
        .await;
    assert_eq!(context, account);
    browser
        .click(&format!("button[data-copy=\"context-{account}\"]"))
        .await;
    browser
        .wait_for_text(&format!("button[data-copy=\"context-{account}\"]"), |t| {
            t == "Copied" || t.starts_with("Selected")
        })
        .await;
    browser.screenshot("accounts.png").await;
    browser.assert_inputs_labelled("accounts").await;

    // Integrator keys: create one.
    browser
        .click("nav a[href=\"/console/integrator-keys\"]")
        .await;
    browser.wait_for_page("integrator-keys").await;
    browser.fill("name", "Acme ERP").await;
    browser
        .fill("key", "YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e")
        .await;
    browser
        .click("form[action=\"/console/integrator-keys\"] button[type=submit]")
        .await;
    browser.wait_for_url("done=created").await;
    browser
        .wait_for_text("#integrator-keys", |t| t.contains("YDMN-339fa93c"))
        .await;
    browser.screenshot("integrator-keys.png").await;
    browser.assert_inputs_labelled("integrator keys").await;

    // Audit: filter by action through the form.
    browser.navigate("/console/audit", "audit").await;
    let seen = app
        .eventually(std::time::Duration::from_secs(10), || async {
            browser
                .client
                .goto(&app.url("/console/audit?action=membership.put"))
                .await
                .unwrap();
            browser
                .client
                .find(Locator::Css("#audit tbody tr"))
                .await
                .is_ok()
        })
        .await;
    assert!(seen, "the membership change is in the audit log");
    browser.open(&app, "/console/audit", "audit").await;
    browser.fill("actor", ADMIN_EMAIL).await;
    browser.click("form.filters button[type=submit]").await;
    browser.wait_for_url("actor=admin%40example.com").await;
    let rows = browser
        .client
        .find_all(Locator::Css("#audit tbody tr"))
        .await
        .unwrap();
    assert!(!rows.is_empty());
    browser.screenshot("audit.png").await;
    browser.assert_inputs_labelled("audit").await;

    // Every page fits a phone's width.
    browser.client.set_window_size(390, 844).await.unwrap();
    for (path, page) in [
        ("/console/users", "users"),
        ("/console/environments", "environments"),
        ("/console/accounts", "accounts"),
        ("/console/integrator-keys", "integrator-keys"),
        ("/console/audit", "audit"),
    ] {
        browser.client.goto(&app.url(path)).await.unwrap();
        browser.wait_for_page(page).await;
        browser
            .assert_fits_width(&format!("{path} at 390 px"))
            .await;
    }
    browser.close().await;
}

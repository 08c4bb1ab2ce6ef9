//! OAuth 2.0 in the console (SPEC §12): an administrator configures an integrator key as an
//! OAuth client (redirect URIs, a client secret and an RSA key pair each shown once, the
//! organization's consent) and moves a legacy integration to the JWT Grant with the button
//! beside the API-user one; and, in headless Chromium, a user arrives from an application at
//! `/oauth/auth`, signs in, sees the consent page naming the integration and its scopes,
//! allows it, and the application gets a code; the user then withdraws the consent on
//! "Your consents" and the application's token stops working.

use crate::support::{Browser, ConsoleClient, csrf_token, location, value_of_id};
use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{CreatedIntegratorKey, spawn_app};
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "a long consent password";

#[tokio::test]
async fn an_administrator_configures_an_oauth_client_and_sees_each_secret_once() {
    let app = spawn_app().await;
    let user = app.create_user("signer@example.com", None).await;
    let CreatedIntegratorKey { id, .. } = app.create_integrator_key("Web app", None).await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let page = format!("/console/integrator-keys/{id}/oauth");
    let list = console.page("/console/integrator-keys").await;
    assert!(
        list.contains(&format!("href=\"{page}\"")),
        "the keys list links the OAuth page"
    );
    let html = console.page(&page).await;
    let csrf = csrf_token(&html);
    // Redirect URIs: one per line; a bad one is refused with a message and changes nothing.
    let bad = console
        .post(
            &format!("{page}/client"),
            &[
                ("csrf_token", &csrf),
                ("redirect_uris", "http://app.example.com/cb"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body().await.contains("loopback"));
    let saved = console
        .post(
            &format!("{page}/client"),
            &[
                ("csrf_token", &csrf),
                (
                    "redirect_uris",
                    "https://app.example.com/cb\r\nhttp://127.0.0.1:8765/cb\r\n",
                ),
                ("allow_implicit", "true"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let key: Value = app
        .admin_get(&format!("/admin/v1/integrator-keys/{id}"))
        .await
        .value()
        .await;
    assert_eq!(
        key["redirect_uris"],
        json!(["https://app.example.com/cb", "http://127.0.0.1:8765/cb"])
    );
    assert_eq!(key["allow_implicit"], true);
    // A client secret, shown once.
    let secret = console
        .post(&format!("{page}/secrets"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(secret.status(), StatusCode::CREATED);
    let shown = value_of_id(&secret.body().await, "new-secret").unwrap();
    assert!(shown.starts_with("csos_"), "{shown}");
    assert!(
        !console.page(&page).await.contains(&shown),
        "never shown again"
    );
    // An RSA pair, the private key shown once.
    let generated = console
        .post(
            &format!("{page}/rsa-keys"),
            &[("csrf_token", &csrf), ("generate", "true")],
        )
        .await;
    assert_eq!(generated.status(), StatusCode::CREATED);
    let html = generated.body().await;
    assert!(html.contains("BEGIN RSA PRIVATE KEY"));
    assert!(!console.page(&page).await.contains("PRIVATE KEY"));
    // A private key pasted as a public key: refused, not stored.
    let pasted = html
        .split("<textarea id=\"new-private-key\" readonly rows=\"8\">")
        .nth(1)
        .unwrap()
        .split("</textarea>")
        .next()
        .unwrap()
        .to_owned();
    let refused = console
        .post(
            &format!("{page}/rsa-keys"),
            &[("csrf_token", &csrf), ("public_key_pem", &pasted)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let keys: Value = app
        .admin_get(&format!("/admin/v1/integrator-keys/{id}/rsa-keys"))
        .await
        .value()
        .await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1);
    // The organization's consent for one user.
    let consent = console
        .post(
            &format!("{page}/consent"),
            &[
                ("csrf_token", &csrf),
                ("scopes", "signature"),
                ("scopes", "impersonation"),
                ("users", "listed"),
                ("user_ids", &user),
            ],
        )
        .await;
    assert_eq!(consent.status(), StatusCode::SEE_OTHER);
    let stored: Value = app
        .admin_get(&format!("/admin/v1/integrator-keys/{id}/consent"))
        .await
        .value()
        .await;
    assert_eq!(stored["user_ids"], json!([user]));
    assert_eq!(stored["scopes"], json!(["signature", "impersonation"]));
    // Without the CSRF token nothing changes.
    let forged = console.post(&format!("{page}/secrets"), &[]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_migration_page_moves_a_legacy_integration_to_the_jwt_grant() {
    let app = spawn_app().await;
    let CreatedIntegratorKey { id, key } = app.create_integrator_key("Acme ERP", None).await;
    let service = app
        .create_sender("service@acme.example", Some(PASSWORD))
        .await;
    let header = build_header(
        HeaderFormat::Json,
        "service@acme.example",
        PASSWORD,
        &key,
        None,
    );
    let used = app.verify_legacy(header).await;
    assert_eq!(used.status(), StatusCode::OK);
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let plan = console.page(&format!("/console/legacy-usage/{id}")).await;
    assert!(plan.contains(&format!(
        "action=\"/console/legacy-usage/{id}/migrate-jwt\""
    )));
    assert!(
        plan.contains(&format!("action=\"/console/legacy-usage/{id}/migrate\"")),
        "beside the API-user migration"
    );
    let migrated = console
        .post(
            &format!("/console/legacy-usage/{id}/migrate-jwt"),
            &[("csrf_token", &csrf_token(&plan))],
        )
        .await;
    assert_eq!(migrated.status(), StatusCode::CREATED);
    let html = migrated.body().await;
    assert!(html.contains("BEGIN RSA PRIVATE KEY"));
    assert!(html.contains("request_jwt_user_token"));
    let consent: Value = app
        .admin_get(&format!("/admin/v1/integrator-keys/{id}/consent"))
        .await
        .value()
        .await;
    assert_eq!(consent["user_ids"], json!([service]));
}

#[tokio::test]
async fn browser_user_signs_in_consents_and_later_withdraws_the_consent() {
    let app = spawn_app().await;
    app.create_sender("consenting@example.com", Some(PASSWORD))
        .await;
    let CreatedIntegratorKey { id, key } = app.create_integrator_key("Contract Portal", None).await;
    // The application's callback: this server's address (the page there does not matter; the
    // browser's address bar carries the code).
    let redirect_uri = format!("{}/callback", app.base);
    app.admin(
        reqwest::Method::PATCH,
        &format!("/admin/v1/integrator-keys/{id}"),
    )
    .json(&json!({"redirect_uris": [redirect_uri]}))
    .call()
    .await;
    let secret: Value = app
        .admin_post(
            &format!("/admin/v1/integrator-keys/{id}/secrets"),
            json!({}),
        )
        .await
        .value()
        .await;
    let Some(browser) = Browser::start("browser_user_signs_in_consents").await else {
        return;
    };
    let authorize = format!(
        "{}/oauth/auth?response_type=code&scope=signature+impersonation&client_id={key}&redirect_uri={}&state=xyz",
        app.base,
        url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect::<String>()
    );
    browser.client.goto(&authorize).await.unwrap();
    browser.wait_for_page("sign-in").await;
    browser.assert_inputs_labelled("OAuth sign-in").await;
    browser
        .submit_sign_in("consenting@example.com", PASSWORD)
        .await;
    browser.wait_for_page("oauth-consent").await;
    let integration = browser.text(Locator::Id("oauth-integration")).await;
    assert_eq!(integration, "Contract Portal");
    let scopes = browser.text(Locator::Id("oauth-scopes")).await;
    assert!(
        scopes.contains("signature") && scopes.contains("impersonation"),
        "{scopes}"
    );
    browser.screenshot("oauth-consent.png").await;
    browser.click("#oauth-accept").await;
    browser.wait_for_url("/callback?code=").await;
    let landed = browser.client.current_url().await.unwrap();
    let answer: std::collections::BTreeMap<String, String> =
        landed.query_pairs().into_owned().collect();
    assert_eq!(answer["state"], "xyz");
    let tokens: Value = app
        .post("/oauth/token")
        .basic_auth(&key, Some(secret["secret"].as_str().unwrap()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", answer["code"].as_str()),
        ])
        .call()
        .await
        .value()
        .await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let verify = |token: String| {
        let app = &app;
        async move {
            app.get("/v1/verify")
                .bearer_auth(token)
                .header("X-Original-URI", "/restapi/v2.1/diagnostics")
                .call()
                .await
                .status()
        }
    };
    assert_eq!(verify(access.clone()).await, StatusCode::OK);

    // "Your consents": the integration is listed; withdrawing asks first, then ends the token.
    browser.open(&app, "/console/consents", "consents").await;
    let row = browser
        .text(Locator::Css(&format!("tr[data-integrator-key=\"{id}\"]")))
        .await;
    assert!(row.contains("Contract Portal"), "{row}");
    browser.screenshot("oauth-consents.png").await;
    browser
        .click(&format!(
            "form[action=\"/console/consents/{id}/withdraw\"] button"
        ))
        .await;
    browser.client.accept_alert().await.unwrap();
    browser.wait_for_url("withdrawn=1").await;
    browser.wait_for_page("consents").await;
    assert_eq!(verify(access).await, StatusCode::UNAUTHORIZED);
    browser.close().await;
}

#[tokio::test]
async fn a_non_administrator_may_review_consents_but_not_the_console() {
    let app = spawn_app().await;
    app.create_user("plain@example.com", Some(PASSWORD)).await;
    let console = ConsoleClient::new(&app);
    let signed_in = console.sign_in_as("plain@example.com", PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed_in), "/console/api-users");
    let page = console.page("/console/consents").await;
    assert!(page.contains("You have not allowed any integration"));
    assert_eq!(
        console.get("/console/api-users").await.status(),
        StatusCode::FORBIDDEN
    );
}

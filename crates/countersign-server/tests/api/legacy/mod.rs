//! The DocuSign legacy header: every row of SPEC §5's error table, the seed's exact forms,
//! Send-On-Behalf-Of, `login_information`, API passwords and XML attacks.

use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::CreatedAccount;
use countersign_test_support::header as header_value;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{TestApp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const INTEGRATOR_KEY: &str = "YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e";
const PASSWORD: &str = "/A5hpPhSczID+JNEKZbg5mYf7+7=";
const SERVICE: &str = "service.account.user.member@domain.com";
const SOBO: &str = "user.member@domain.com";

struct World {
    app: TestApp,
    service: String,
    sobo: String,
    account: String,
    number: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    app.create_integrator_key("Seed", Some(INTEGRATOR_KEY))
        .await;
    let service = app.create_user(SERVICE, Some(PASSWORD)).await;
    let sobo = app.create_user(SOBO, None).await;
    let account = app.account_id.clone();
    app.put_membership(&service, &account, &["send", "sobo", "account_wide"], true)
        .await;
    app.put_membership(&sobo, &account, &["send"], true).await;
    let number = app.account_number(&account).await;
    World {
        app,
        service,
        sobo,
        account,
        number,
    }
}

/// `GET path` with an `X-DocuSign-Authentication` header.
async fn legacy_get(app: &TestApp, path: &str, header: &str) -> reqwest::Response {
    app.get(path)
        .header("X-DocuSign-Authentication", header)
        .call()
        .await
}

async fn verify_with(app: &TestApp, header: &str, uri: Option<&str>) -> reqwest::Response {
    let mut request = app
        .get("/v1/verify")
        .header("X-DocuSign-Authentication", header);
    if let Some(uri) = uri {
        request = request.header("X-Original-URI", uri);
    }
    request.call().await
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = response.value().await;
    (
        status,
        body["errorCode"].as_str().unwrap_or_default().to_owned(),
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

fn json_header(username: &str, password: &str, sobo: Option<&str>) -> String {
    build_header(HeaderFormat::Json, username, password, INTEGRATOR_KEY, sobo)
}

#[tokio::test]
async fn seed_examples_authenticate_in_both_forms() {
    let w = world().await;
    let xml = format!(
        "<DocuSignCredentials><Username>{}</Username><Password>{PASSWORD}</Password><IntegratorKey>{INTEGRATOR_KEY} </IntegratorKey></DocuSignCredentials>",
        w.service
    );
    let xml_sobo = format!(
        "<DocuSignCredentials><Username>{}</Username><Password>{PASSWORD}</Password><IntegratorKey>{INTEGRATOR_KEY}</IntegratorKey><SendOnBehalfOf>{} </SendOnBehalfOf></DocuSignCredentials>",
        w.service, w.sobo
    );
    let json = format!(
        r#"{{"Username":"{}","Password":"{PASSWORD}","IntegratorKey":"{INTEGRATOR_KEY}"}}"#,
        w.service
    );
    let json_sobo = format!(
        r#"{{"Username":"{}","Password":"{PASSWORD}","SendOnBehalfOf":"{}","IntegratorKey":"{INTEGRATOR_KEY}"}}"#,
        w.service, w.sobo
    );
    for (header, expected_user, method) in [
        (&xml, &w.service, "legacy_header"),
        (&json, &w.service, "legacy_header"),
        (&xml_sobo, &w.sobo, "legacy_header_sobo"),
        (&json_sobo, &w.sobo, "legacy_header_sobo"),
    ] {
        let response = verify_with(&w.app, header, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{header}");
        assert_eq!(
            &header_value(&response, "x-countersign-user-id"),
            expected_user,
            "{header}"
        );
        assert_eq!(header_value(&response, "x-countersign-auth-method"), method);
        assert_eq!(
            header_value(&response, "x-countersign-actor"),
            w.service,
            "the authenticated user is the actor"
        );
        assert_eq!(header_value(&response, "x-countersign-account"), w.account);
    }
}

#[tokio::test]
async fn other_spellings_of_the_header_parse() {
    let w = world().await;
    let forms = [
        format!(
            "<DocuSignCredentials><SendOnBehalfOf>{}</SendOnBehalfOf><IntegratorKey>{INTEGRATOR_KEY}</IntegratorKey><Password>{PASSWORD}</Password><Username>{}</Username></DocuSignCredentials>",
            w.sobo, SERVICE
        ),
        // HTTP header values cannot carry line breaks, so "pretty" XML on the wire is indented
        // with spaces and tabs (the core parser's tests cover line breaks too).
        format!(
            "<?xml version=\"1.0\"?> <DocuSignCredentials>\t<Username> {SERVICE} </Username>\t  <Password>{PASSWORD}</Password>  <IntegratorKey>{INTEGRATOR_KEY}</IntegratorKey> </DocuSignCredentials> "
        ),
        format!(
            "{{ \"Username\" : \"{SERVICE}\" , \"Password\" : \"{PASSWORD}\" , \"IntegratorKey\" : \"{INTEGRATOR_KEY}\" }}"
        ),
    ];
    for header in forms {
        let response = verify_with(&w.app, &header, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{header}");
    }
}

#[tokio::test]
async fn all_four_username_and_password_pairings_work() {
    let w = world().await;
    let response = legacy_get(
        &w.app,
        "/restapi/v2/login_information?api_password=true",
        &json_header(SERVICE, PASSWORD, None),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let api_password = response.value().await["apiPassword"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(api_password, PASSWORD);
    for (username, password) in [
        (SERVICE, PASSWORD),
        (w.service.as_str(), PASSWORD),
        (SERVICE, api_password.as_str()),
        (w.service.as_str(), api_password.as_str()),
    ] {
        let response = verify_with(&w.app, &json_header(username, password, None), None).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{username} with {}",
            if password == PASSWORD {
                "password"
            } else {
                "API password"
            }
        );
    }
}

#[tokio::test]
async fn error_table_rows_answer_exactly() {
    let w = world().await;
    let app = &w.app;
    let (status, code, message) = error_of(
        app.get("/v1/verify")
            .header("X-Original-URI", "/restapi/v2/accounts/1/envelopes")
            .call()
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "PARTNER_AUTHENTICATION_FAILED"),
        "header missing"
    );
    assert_eq!(
        message,
        "The specified Integrator Key was not found or is disabled. An Integrator key was not specified."
    );
    let (status, code, _) =
        error_of(verify_with(app, "<DocuSignCredentials><Username>", None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "PARTNER_AUTHENTICATION_FAILED"),
        "unparseable"
    );
    let unknown = build_header(HeaderFormat::Json, SERVICE, PASSWORD, "unknown-key", None);
    let (status, code, message) = error_of(verify_with(app, &unknown, None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "PARTNER_AUTHENTICATION_FAILED"),
        "unknown key"
    );
    assert_eq!(
        message,
        "The specified Integrator Key was not found or is disabled."
    );
    let (status, code, message) =
        error_of(verify_with(app, &json_header(SERVICE, "wrong-password", None), None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "USER_AUTHENTICATION_FAILED"),
        "wrong password"
    );
    assert_eq!(message, "One or both of Username and Password are invalid.");
    let (status, code, _) =
        error_of(verify_with(app, &json_header("nobody@domain.com", PASSWORD, None), None).await)
            .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "USER_AUTHENTICATION_FAILED"),
        "unknown user"
    );
    let other_env = app.create_environment("Other", "production").await;
    let CreatedAccount {
        number: foreign_number,
        ..
    } = app.create_account(&other_env, "Foreign").await;
    let uri = format!("/restapi/v2/accounts/{foreign_number}/envelopes");
    let response = verify_with(app, &json_header(SERVICE, PASSWORD, None), Some(&uri)).await;
    let (status, code, _) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (
            StatusCode::FORBIDDEN,
            "USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT"
        ),
        "forward auth answers 403 for the dialect's 400"
    );
    let own = format!("/restapi/v2.1/accounts/{}/envelopes", w.number);
    assert_eq!(
        verify_with(app, &json_header(SERVICE, PASSWORD, None), Some(&own))
            .await
            .status(),
        StatusCode::OK
    );
    let (status, code, message) = error_of(
        verify_with(
            app,
            &json_header(SERVICE, PASSWORD, Some("ghost@domain.com")),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "USER_LACKS_PERMISSIONS"),
        "unknown SOBO user"
    );
    assert_eq!(
        message,
        "This user lacks sufficient permissions to access this resource."
    );
    let key_id = app
        .admin_get("/admin/v1/integrator-keys")
        .await
        .value()
        .await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.admin_post(
        &format!("/admin/v1/integrator-keys/{key_id}/revoke"),
        json!({}),
    )
    .await;
    let (status, code, _) =
        error_of(verify_with(app, &json_header(SERVICE, PASSWORD, None), None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "PARTNER_AUTHENTICATION_FAILED"),
        "revoked key"
    );
}

#[tokio::test]
async fn disabled_user_fails_on_the_very_next_request() {
    let w = world().await;
    let header = json_header(SERVICE, PASSWORD, None);
    assert_eq!(
        verify_with(&w.app, &header, None).await.status(),
        StatusCode::OK
    );
    w.app
        .admin(Method::PATCH, &format!("/admin/v1/users/{}", w.service))
        .json(&json!({"status": "disabled"}))
        .call()
        .await;
    let (status, code, _) = error_of(verify_with(&w.app, &header, None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "USER_AUTHENTICATION_FAILED")
    );
}

#[tokio::test]
async fn password_change_ends_cached_verifications_and_api_passwords() {
    let w = world().await;
    let login = |password: String| {
        w.app
            .client
            .get(
                w.app
                    .url("/restapi/v2.1/login_information?API_PASSWORD=TRUE"),
            )
            .header(
                "X-DocuSign-Authentication",
                json_header(SERVICE, &password, None),
            )
            .send()
    };
    let first: Value = login(PASSWORD.into()).await.unwrap().value().await;
    let api_one = first["apiPassword"].as_str().unwrap().to_owned();
    let second: Value = login(PASSWORD.into()).await.unwrap().value().await;
    let api_two = second["apiPassword"].as_str().unwrap().to_owned();
    assert_ne!(api_one, api_two, "a new API password each time");
    for password in [PASSWORD, &api_one, &api_two] {
        assert_eq!(
            verify_with(&w.app, &json_header(SERVICE, password, None), None)
                .await
                .status(),
            StatusCode::OK,
            "earlier ones keep working"
        );
    }
    let response = w
        .app
        .admin(
            Method::PUT,
            &format!("/admin/v1/users/{}/password", w.service),
        )
        .json(&json!({"password": "brand-new-password"}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for password in [PASSWORD, &api_one, &api_two] {
        assert_eq!(
            verify_with(&w.app, &json_header(SERVICE, password, None), None)
                .await
                .status(),
            StatusCode::UNAUTHORIZED,
            "ended by the password change"
        );
    }
    assert_eq!(
        verify_with(
            &w.app,
            &json_header(SERVICE, "brand-new-password", None),
            None
        )
        .await
        .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn api_password_reset_ends_api_passwords_at_once() {
    let w = world().await;
    let body: Value = legacy_get(
        &w.app,
        "/restapi/v2/login_information?api_password=true",
        &json_header(SERVICE, PASSWORD, None),
    )
    .await
    .value()
    .await;
    let api_password = body["apiPassword"].as_str().unwrap().to_owned();
    assert_eq!(
        verify_with(&w.app, &json_header(SERVICE, &api_password, None), None)
            .await
            .status(),
        StatusCode::OK
    );
    let response = w
        .app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/users/{}/api-passwords", w.service),
        )
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        verify_with(&w.app, &json_header(SERVICE, &api_password, None), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        verify_with(&w.app, &json_header(SERVICE, PASSWORD, None), None)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn membership_change_takes_effect_on_the_next_request() {
    let w = world().await;
    let header = json_header(SERVICE, PASSWORD, Some(SOBO));
    assert_eq!(
        verify_with(&w.app, &header, None).await.status(),
        StatusCode::OK
    );
    w.app
        .put_membership(&w.service, &w.account, &["send", "sobo"], true)
        .await;
    let (status, code, _) = error_of(verify_with(&w.app, &header, None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "USER_LACKS_PERMISSIONS")
    );
}

mod encodings;
mod sobo;

/// Text no stored name can hold (a NUL, which PostgreSQL cannot even compare) is a refusal in
/// the dialect, never a store failure.
#[tokio::test]
async fn a_nul_in_a_legacy_header_is_refused_in_the_dialect() {
    let w = world().await;
    for header in [
        format!(r#"{{"Username":"a\u0000b","Password":"x","IntegratorKey":"{INTEGRATOR_KEY}"}}"#),
        format!(
            r#"{{"Username":"{SERVICE}","Password":"{PASSWORD}","IntegratorKey":"{INTEGRATOR_KEY}","SendOnBehalfOf":"a\u0000b"}}"#
        ),
        format!(r#"{{"Username":"{SERVICE}","Password":"x","IntegratorKey":"k\u0000"}}"#),
    ] {
        let response = legacy_get(&w.app, "/restapi/v2/login_information", &header).await;
        assert!(
            response.status().is_client_error(),
            "{header}: {}",
            response.status()
        );
    }
}

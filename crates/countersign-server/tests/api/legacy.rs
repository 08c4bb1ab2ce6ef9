//! The DocuSign legacy header: every row of SPEC §5's error table, the seed's exact forms,
//! Send-On-Behalf-Of, `login_information`, API passwords and XML attacks.

use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::CreatedAccount;
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
    let key = app
        .admin_post(
            "/admin/v1/integrator-keys",
            json!({"name": "Seed", "key": INTEGRATOR_KEY}),
        )
        .await;
    assert_eq!(key.status(), StatusCode::CREATED);
    let service = app.create_user(SERVICE, Some(PASSWORD)).await;
    let sobo = app.create_user(SOBO, None).await;
    let account = app.account_id.clone();
    app.put_membership(&service, &account, &["send", "sobo", "account_wide"], true)
        .await;
    app.put_membership(&sobo, &account, &["send"], true).await;
    let number = app
        .admin_get(&format!("/admin/v1/accounts/{account}"))
        .await
        .json::<Value>()
        .await
        .unwrap()["number"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        app,
        service,
        sobo,
        account,
        number,
    }
}

async fn verify_with(app: &TestApp, header: &str, uri: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url("/v1/verify"))
        .header("X-DocuSign-Authentication", header);
    if let Some(uri) = uri {
        request = request.header("X-Original-URI", uri);
    }
    request.send().await.unwrap()
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["errorCode"].as_str().unwrap_or_default().to_owned(),
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

fn json_header(username: &str, password: &str, sobo: Option<&str>) -> String {
    build_header(HeaderFormat::Json, username, password, INTEGRATOR_KEY, sobo)
}

fn header_value(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
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
    let response = w
        .app
        .client
        .get(w.app.url("/restapi/v2/login_information?api_password=true"))
        .header(
            "X-DocuSign-Authentication",
            json_header(SERVICE, PASSWORD, None),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let api_password = response.json::<Value>().await.unwrap()["apiPassword"]
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
        app.client
            .get(app.url("/v1/verify"))
            .header("X-Original-URI", "/restapi/v2/accounts/1/envelopes")
            .send()
            .await
            .unwrap(),
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
        .json::<Value>()
        .await
        .unwrap()["items"][0]["id"]
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
        .send()
        .await
        .unwrap();
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
    let first: Value = login(PASSWORD.into()).await.unwrap().json().await.unwrap();
    let api_one = first["apiPassword"].as_str().unwrap().to_owned();
    let second: Value = login(PASSWORD.into()).await.unwrap().json().await.unwrap();
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
        .send()
        .await
        .unwrap();
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
    let body: Value = w
        .app
        .client
        .get(w.app.url("/restapi/v2/login_information?api_password=true"))
        .header(
            "X-DocuSign-Authentication",
            json_header(SERVICE, PASSWORD, None),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
        .send()
        .await
        .unwrap();
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

#[tokio::test]
async fn each_sobo_failure_is_user_lacks_permissions() {
    async fn lacks(w: &World, sobo: &str, case: &str) {
        let (status, code, _) =
            error_of(verify_with(&w.app, &json_header(SERVICE, PASSWORD, Some(sobo)), None).await)
                .await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "USER_LACKS_PERMISSIONS"),
            "{case}"
        );
    }
    let w = world().await;
    // The SOBO user in another account only.
    let CreatedAccount {
        id: other_account, ..
    } = w.app.create_account(&w.app.environment_id, "Other").await;
    let outsider = w.app.create_user("outsider@domain.com", None).await;
    w.app
        .put_membership(&outsider, &other_account, &["send"], true)
        .await;
    lacks(&w, "outsider@domain.com", "SOBO user in another account").await;
    // The SOBO user without send.
    let reader = w.app.create_user("reader@domain.com", None).await;
    w.app.put_membership(&reader, &w.account, &[], true).await;
    lacks(&w, "reader@domain.com", "SOBO user without send").await;
    // A disabled SOBO user.
    w.app
        .admin(Method::PATCH, &format!("/admin/v1/users/{}", w.sobo))
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    lacks(&w, SOBO, "disabled SOBO user").await;
    w.app
        .admin(Method::PATCH, &format!("/admin/v1/users/{}", w.sobo))
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        verify_with(&w.app, &json_header(SERVICE, PASSWORD, Some(&w.sobo)), None)
            .await
            .status(),
        StatusCode::OK,
        "SOBO by user id"
    );
    // Missing account_wide, then missing sobo.
    w.app
        .put_membership(&w.service, &w.account, &["send", "sobo"], true)
        .await;
    lacks(&w, SOBO, "missing account_wide").await;
    w.app
        .put_membership(&w.service, &w.account, &["send", "account_wide"], true)
        .await;
    lacks(&w, SOBO, "missing sobo").await;
}

#[tokio::test]
async fn sobo_is_audited_with_the_authenticated_user_as_actor() {
    let w = world().await;
    assert_eq!(
        verify_with(&w.app, &json_header(SERVICE, PASSWORD, Some(SOBO)), None)
            .await
            .status(),
        StatusCode::OK
    );
    let seen = w
        .app
        .eventually(std::time::Duration::from_secs(5), || async {
            let body: Value = w
                .app
                .admin_get("/admin/v1/audit?action=legacy.sobo")
                .await
                .json()
                .await
                .unwrap();
            body["items"].as_array().unwrap().iter().any(|i| {
                i["actor"] == SERVICE
                    && i["subject"] == w.sobo.as_str()
                    && i["outcome"] == "success"
            })
        })
        .await;
    assert!(seen);
    let whoami: Value = w
        .app
        .client
        .get(w.app.url("/v1/whoami"))
        .header(
            "X-DocuSign-Authentication",
            json_header(SERVICE, PASSWORD, Some(SOBO)),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["user_id"], w.sobo.as_str());
    assert_eq!(whoami["actor"], w.service.as_str());
    assert_eq!(whoami["auth_method"], "legacy_header_sobo");
}

#[tokio::test]
async fn every_sobo_request_is_counted_exactly_in_the_audit() {
    let w = world().await;
    let header = json_header(SERVICE, PASSWORD, Some(SOBO));
    for _ in 0..25 {
        assert_eq!(
            verify_with(&w.app, &header, None).await.status(),
            StatusCode::OK
        );
    }
    // Repeats are answered from the thread cache; each one still counts.
    let counted = |body: &Value| -> u64 {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| {
                i["actor"] == SERVICE
                    && i["subject"] == w.sobo.as_str()
                    && i["outcome"] == "success"
                    && i["source_ip"] == "127.0.0.1"
            })
            .filter_map(|i| i["detail"].as_str())
            .filter(|detail| detail.contains(&w.account))
            .filter_map(|detail| detail.split(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let complete = w
        .app
        .eventually(std::time::Duration::from_secs(5), || async {
            let body: Value = w
                .app
                .admin_get("/admin/v1/audit?action=legacy.sobo")
                .await
                .json()
                .await
                .unwrap();
            counted(&body) == 25
        })
        .await;
    assert!(complete, "25 on-behalf-of requests are 25 in the audit");
}

#[tokio::test]
async fn sobo_login_information_stays_within_the_actors_rights() {
    let w = world().await;
    // The user acted for also administers a private account the service cannot act in.
    let env = w.app.environment_id.clone();
    let CreatedAccount { id: private, .. } = w.app.create_account(&env, "Private").await;
    w.app
        .put_membership(&w.sobo, &private, &["send", "admin"], false)
        .await;
    let response = w
        .app
        .client
        .get(
            w.app
                .url("/restapi/v2/login_information?include_account_id_guid=true"),
        )
        .header(
            "X-DocuSign-Authentication",
            json_header(SERVICE, PASSWORD, Some(SOBO)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let listed: Vec<&str> = body["loginAccounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["accountIdGuid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![w.account.as_str()]);
    assert!(body.get("apiPassword").is_none());
    // No credential is ever made for the user acted for.
    let response = w
        .app
        .client
        .get(w.app.url("/restapi/v2/login_information?api_password=true"))
        .header(
            "X-DocuSign-Authentication",
            json_header(SERVICE, PASSWORD, Some(SOBO)),
        )
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code, "USER_LACKS_PERMISSIONS");
    let denied = w
        .app
        .eventually(std::time::Duration::from_secs(5), || async {
            let body: Value = w
                .app
                .admin_get("/admin/v1/audit?action=legacy.sobo")
                .await
                .json()
                .await
                .unwrap();
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["actor"] == SERVICE && i["outcome"] == "denied")
        })
        .await;
    assert!(denied, "the refusal is audited with the real actor");
}

#[tokio::test]
async fn login_information_has_the_documented_shape() {
    let w = world().await;
    let CreatedAccount {
        id: second,
        number: second_number,
    } = w.app.create_account(&w.app.environment_id, "Second").await;
    w.app
        .put_membership(&w.service, &second, &["send"], false)
        .await;
    let response =
        w.app
            .client
            .get(w.app.url(
                "/restapi/v2/login_information?include_account_id_guid=True&login_settings=ALL",
            ))
            .header(
                "x-docusign-authentication",
                json_header(SERVICE, PASSWORD, None),
            )
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = response.json().await.unwrap();
    assert!(body.get("apiPassword").is_none());
    let accounts = body["loginAccounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    let first = &accounts[0];
    assert_eq!(
        first["accountId"],
        w.number.as_str(),
        "default account first"
    );
    assert_eq!(first["isDefault"], "true");
    assert_eq!(accounts[1]["isDefault"], "false");
    assert_eq!(accounts[1]["accountId"], second_number.as_str());
    assert_eq!(first["accountIdGuid"], w.account.as_str());
    assert_eq!(
        first["baseUrl"],
        format!("{}/restapi/v2/accounts/{}", w.app.base, w.number)
    );
    assert_eq!(first["userId"], w.service.as_str());
    assert_eq!(first["email"], SERVICE);
    assert_eq!(first["userName"], SERVICE);
    assert_eq!(first["siteDescription"], "");
    assert!(first["loginUserSettings"].is_array());
    let v21: Value = w
        .app
        .client
        .get(w.app.url("/restapi/v2.1/login_information"))
        .header(
            "X-DocuSign-Authentication",
            json_header(SERVICE, PASSWORD, None),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v21["loginAccounts"][0]["baseUrl"],
        format!("{}/restapi/v2.1/accounts/{}", w.app.base, w.number)
    );
    assert!(v21["loginAccounts"][0].get("accountIdGuid").is_none());
    let (status, code, _) = error_of(
        w.app
            .client
            .get(w.app.url("/restapi/v2/login_information"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "PARTNER_AUTHENTICATION_FAILED")
    );
}

#[tokio::test]
async fn passwords_with_markup_characters_round_trip_through_both_forms() {
    let w = world().await;
    let tricky = "p<a&s\"s'w>o\\rd é";
    let id = w.app.create_user("tricky@domain.com", Some(tricky)).await;
    w.app.put_membership(&id, &w.account, &["send"], true).await;
    for format in [HeaderFormat::Xml, HeaderFormat::Json] {
        let header = build_header(format, "tricky@domain.com", tricky, INTEGRATOR_KEY, None);
        let response = verify_with(&w.app, &header, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{header}");
    }
}

#[tokio::test]
async fn xml_attack_payloads_are_refused_as_unparseable() {
    let w = world().await;
    let billion_laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]><DocuSignCredentials><Username>&lol3;</Username><Password>{PASSWORD}</Password><IntegratorKey>{INTEGRATOR_KEY}</IntegratorKey></DocuSignCredentials>"
    );
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><DocuSignCredentials><Username>&xxe;</Username><Password>{PASSWORD}</Password><IntegratorKey>{INTEGRATOR_KEY}</IntegratorKey></DocuSignCredentials>"
    );
    let custom_entity = format!(
        "<DocuSignCredentials><Username>&custom;</Username><Password>{PASSWORD}</Password><IntegratorKey>{INTEGRATOR_KEY}</IntegratorKey></DocuSignCredentials>"
    );
    let oversized = format!(
        "<DocuSignCredentials><Username>{}</Username></DocuSignCredentials>",
        "a".repeat(9000)
    );
    for payload in [billion_laughs, xxe, custom_entity, oversized] {
        let (status, code, _) = error_of(verify_with(&w.app, &payload, None).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "PARTNER_AUTHENTICATION_FAILED")
        );
    }
}

#[tokio::test]
async fn unknown_user_and_wrong_password_cost_the_same_argon2_work() {
    let w = world().await;
    // Warm nothing: neither request can hit the verification cache. Counted per server, so
    // tests running alongside do not count here.
    let count = || w.app.server().state().passwords.verifications();
    let before = count();
    verify_with(
        &w.app,
        &json_header("ghost@domain.com", "not-the-password", None),
        None,
    )
    .await;
    let unknown = count() - before;
    let before = count();
    verify_with(
        &w.app,
        &json_header(SERVICE, "not-the-password", None),
        None,
    )
    .await;
    let wrong = count() - before;
    assert_eq!(unknown, 2);
    assert_eq!(unknown, wrong);
}

/// The header's bytes exactly as given, which may be ISO-8859-1 rather than UTF-8.
fn raw_header(bytes: &[u8]) -> reqwest::header::HeaderValue {
    reqwest::header::HeaderValue::from_bytes(bytes).unwrap()
}

/// A header's text as ISO-8859-1 bytes, one byte per character, as Node.js and Java send it.
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("a Latin-1 character"))
        .collect()
}

#[tokio::test]
async fn non_ascii_password_authenticates_sent_as_latin1_or_as_utf8_bytes() {
    let w = world().await;
    let password = "pässwörd-é";
    let email = "joerg@domain.com";
    let user = w.app.create_user(email, Some(password)).await;
    w.app
        .put_membership(&user, &w.account, &["send"], true)
        .await;
    for format in [HeaderFormat::Json, HeaderFormat::Xml] {
        let header = build_header(format, email, password, INTEGRATOR_KEY, None);
        for (encoding, bytes) in [
            ("latin1", latin1(&header)),
            ("utf8", header.clone().into_bytes()),
        ] {
            let verified = w
                .app
                .client
                .get(w.app.url("/v1/verify"))
                .header("X-DocuSign-Authentication", raw_header(&bytes))
                .send()
                .await
                .unwrap();
            assert_eq!(verified.status(), StatusCode::OK, "{format:?} {encoding}");
            assert_eq!(header_value(&verified, "x-countersign-user-id"), user);
            assert_eq!(
                header_value(&verified, "x-countersign-auth-method"),
                "legacy_header"
            );
            let login = w
                .app
                .client
                .get(w.app.url("/restapi/v2.1/login_information"))
                .header("X-DocuSign-Authentication", raw_header(&bytes))
                .send()
                .await
                .unwrap();
            assert_eq!(login.status(), StatusCode::OK, "{format:?} {encoding}");
            let body: Value = login.json().await.unwrap();
            assert_eq!(body["loginAccounts"][0]["userId"], user.as_str());
            assert_eq!(body["loginAccounts"][0]["accountId"], w.number.as_str());
        }
    }
}

#[tokio::test]
async fn wrong_password_sent_as_latin1_is_a_wrong_password_not_a_missing_key() {
    let w = world().await;
    let email = "joerg@domain.com";
    let user = w.app.create_user(email, Some("pässwörd-é")).await;
    w.app
        .put_membership(&user, &w.account, &["send"], true)
        .await;
    for password in ["pässwörd-e", "passwörd-é"] {
        let header = json_header(email, password, None);
        let response = w
            .app
            .client
            .get(w.app.url("/v1/verify"))
            .header("X-DocuSign-Authentication", raw_header(&latin1(&header)))
            .send()
            .await
            .unwrap();
        let (status, code, _) = error_of(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(code, "USER_AUTHENTICATION_FAILED", "{password}");
    }
}

#[tokio::test]
async fn latin1_send_on_behalf_of_header_acts_for_the_named_user() {
    let w = world().await;
    let password = "pässwörd-é";
    let email = "joerg@domain.com";
    let user = w.app.create_user(email, Some(password)).await;
    w.app
        .put_membership(&user, &w.account, &["send", "sobo", "account_wide"], true)
        .await;
    let header = build_header(
        HeaderFormat::Xml,
        email,
        password,
        INTEGRATOR_KEY,
        Some(SOBO),
    );
    let response = w
        .app
        .client
        .get(w.app.url("/v1/verify"))
        .header("X-DocuSign-Authentication", raw_header(&latin1(&header)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_value(&response, "x-countersign-user-id"), w.sobo);
    assert_eq!(header_value(&response, "x-countersign-actor"), user);
    assert_eq!(
        header_value(&response, "x-countersign-auth-method"),
        "legacy_header_sobo"
    );
}

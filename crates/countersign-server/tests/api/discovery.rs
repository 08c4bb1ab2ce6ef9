//! AssureSign discovery (SPEC §4): accounts under both prefixes, environments, and the
//! `application/json; charset=utf-8` content type of every dialect-A answer.

use countersign_test_support::CreatedApiUser;
use countersign_test_support::{Call as _, Read as _};
use reqwest::StatusCode;
use serde_json::{Value, json};

const JSON_UTF8: &str = "application/json; charset=utf-8";

use super::verify::{World, world};

async fn token_for(w: &World, api_username: &str, scope: Value) -> String {
    let CreatedApiUser { key, .. } = w.app.create_api_user(api_username, scope).await;
    w.app.token(api_username, &key, "bob@mycompany.com").await
}

async fn get(w: &World, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = w.app.get(path);
    if let Some(token) = token {
        request = request.header("Authorization", format!("bearer {token}"));
    }
    request.call().await
}

/// The name of the bootstrap production environment.
async fn production_name(w: &World) -> String {
    let path = format!("/admin/v1/environments/{}", w.app.environment_id);
    let production = w.app.admin_get(&path).await.value().await;
    production["name"].as_str().unwrap().to_owned()
}

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Status, content type and body of an answer.
async fn answer(response: reqwest::Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let content_type = content_type(&response);
    let body = response.value().await;
    (status, content_type, body)
}

#[tokio::test]
async fn documentnow_prefix_answers_exactly_like_the_v3_accounts_path() {
    let w = world().await;
    let org = token_for(&w, "OrgBot", json!({"type": "organization"})).await;
    let sandbox = token_for(
        &w,
        "SandboxBot",
        json!({"type": "environment", "environment_id": w.sandbox_env}),
    )
    .await;
    for (token, username) in [
        (Some(org.as_str()), "bob@mycompany.com"),
        (Some(sandbox.as_str()), "BOB@mycompany.com"),
        (Some(org.as_str()), "eve@mycompany.com"),
        (Some("cst_not-a-token"), "bob@mycompany.com"),
        (None, "bob@mycompany.com"),
    ] {
        for version in ["v3.0", "v3.7", "v4.0"] {
            let plain = answer(
                get(
                    &w,
                    &format!("/api/{version}/users/{username}/accounts"),
                    token,
                )
                .await,
            )
            .await;
            let documentnow = answer(
                get(
                    &w,
                    &format!("/api/documentnow/{version}/users/{username}/accounts"),
                    token,
                )
                .await,
            )
            .await;
            assert_eq!(plain, documentnow, "{version} {username} {token:?}");
        }
    }
    let (status, _, body) = answer(
        get(
            &w,
            "/api/documentnow/v3.7/users/bob@mycompany.com/accounts",
            Some(&sandbox),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"messages": [], "result": {"userAccounts": [
            {"accountID": w.sandbox, "accountName": "Sandbox account", "isDefault": false, "isDisabled": false}
        ]}})
    );
}

#[tokio::test]
async fn environments_lists_those_holding_the_accounts_in_scope_with_the_default_marked() {
    let w = world().await;
    let org = token_for(&w, "OrgBot", json!({"type": "organization"})).await;
    let (status, content_type, body) = answer(
        get(
            &w,
            "/api/v3.7/users/bob@mycompany.com/environments",
            Some(&org),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, JSON_UTF8);
    assert_eq!(
        body,
        json!({"messages": [], "result": {"environments": [
            {"environmentID": w.app.environment_id, "name": production_name(&w).await, "kind": "production", "isDefault": true},
            {"environmentID": w.sandbox_env, "name": "Sandbox", "kind": "sandbox", "isDefault": false},
        ]}})
    );
}

#[tokio::test]
async fn environments_of_an_environment_scoped_token_stop_at_its_environment() {
    let w = world().await;
    let sandbox = token_for(
        &w,
        "SandboxBot",
        json!({"type": "environment", "environment_id": w.sandbox_env}),
    )
    .await;
    let (status, _, body) = answer(
        get(
            &w,
            "/api/v3.2/users/Bob@MyCompany.com/environments",
            Some(&sandbox),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The default account lies outside the scope, so no environment is the default.
    assert_eq!(
        body["result"]["environments"],
        json!([{"environmentID": w.sandbox_env, "name": "Sandbox", "kind": "sandbox", "isDefault": false}])
    );
}

#[tokio::test]
async fn environments_refuses_another_user_a_bad_token_and_no_token() {
    let w = world().await;
    let org = token_for(&w, "OrgBot", json!({"type": "organization"})).await;
    let (status, sent_type, body) = answer(
        get(
            &w,
            "/api/v3.7/users/eve@mycompany.com/environments",
            Some(&org),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(sent_type, JSON_UTF8);
    assert_eq!(body["errorCode"], "FORBIDDEN");
    let bad = get(
        &w,
        "/api/v3.7/users/bob@mycompany.com/environments",
        Some("cst_nope"),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(
        bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let none = get(&w, "/api/v3.7/users/bob@mycompany.com/environments", None).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(content_type(&none), JSON_UTF8);
    let version = get(
        &w,
        "/api/v9/users/bob@mycompany.com/environments",
        Some(&org),
    )
    .await;
    assert_eq!(version.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_assuresign_answer_is_json_in_utf8_success_or_error() {
    let w = world().await;
    let CreatedApiUser { key, .. } = w
        .app
        .create_api_user("OrgBot", json!({"type": "organization"}))
        .await;
    let exchange = |body: String, content_type: &'static str| {
        w.app
            .post("/api/v3.7/authentication/apiUser")
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let good = format!(
        r#"{{"request":{{"apiUsername":"OrgBot","key":"{key}","contextUsername":"bob@mycompany.com"}}}}"#
    );
    let cases = [
        (good.clone(), "application/json", StatusCode::OK),
        ("{".to_owned(), "application/json", StatusCode::BAD_REQUEST),
        (
            r#"{"request":{"apiUsername":"OrgBot","key":"csk_wrong","contextUsername":"bob@mycompany.com"}}"#.to_owned(),
            "application/json",
            StatusCode::UNAUTHORIZED,
        ),
        (good.clone(), "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            format!(
                r#"{{"request":{{"apiUsername":"OrgBot","key":"{key}","contextUsername":"nobody@mycompany.com"}}}}"#
            ),
            "application/json",
            StatusCode::FORBIDDEN,
        ),
    ];
    for (body, sent_type, status) in cases {
        let response = exchange(body, sent_type).await.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(content_type(&response), JSON_UTF8, "{status}");
        let _: Value = response.value().await;
    }
    let token = w.app.token("OrgBot", &key, "bob@mycompany.com").await;
    for path in [
        "/api/v3.7/users/bob@mycompany.com/accounts",
        "/api/documentnow/v3.7/users/bob@mycompany.com/accounts",
        "/api/v3.7/users/bob@mycompany.com/environments",
    ] {
        for token in [Some(token.as_str()), None] {
            let response = get(&w, path, token).await;
            assert_eq!(content_type(&response), JSON_UTF8, "{path} {token:?}");
        }
    }
}

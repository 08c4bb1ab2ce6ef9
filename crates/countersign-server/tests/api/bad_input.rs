//! Bad input on every surface gets the dialect's 4xx, never a 500.

use countersign_test_support::spawn_app;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn oversized_token_request_is_413_in_the_dialect() {
    let app = spawn_app().await;
    let body = format!(
        r#"{{"request": {{"apiUsername": "{}"}}}}"#,
        "a".repeat(70 * 1024)
    );
    let response = app
        .client
        .post(app.url("/api/v3.5/authentication/apiUser"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.json::<Value>().await.unwrap()["errorCode"],
        "PAYLOAD_TOO_LARGE"
    );
}

#[tokio::test]
async fn overlong_fields_are_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v3.5/authentication/apiUser"))
        .json(&json!({"request": {"apiUsername": "a".repeat(2000), "key": "k", "contextUsername": "c"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn deeply_nested_json_is_400() {
    let app = spawn_app().await;
    let body = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = app
        .client
        .post(app.url("/api/v3.5/authentication/apiUser"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn non_utf8_headers_are_refused_in_the_dialect() {
    let app = spawn_app().await;
    let value = reqwest::header::HeaderValue::from_bytes(b"bearer \xff\xfe").unwrap();
    let response = app
        .client
        .get(app.url("/v1/verify"))
        .header("Authorization", value)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let context = reqwest::header::HeaderValue::from_bytes(b"bob\xff:x").unwrap();
    let response = app
        .client
        .get(app.url("/v1/verify"))
        .header("Authorization", "bearer cst_x")
        .header("X-AS-UserContext", context)
        .send()
        .await
        .unwrap();
    assert!(
        response.status() == StatusCode::FORBIDDEN || response.status() == StatusCode::UNAUTHORIZED,
        "{}",
        response.status()
    );
}

#[tokio::test]
async fn admin_bodies_are_validated() {
    let app = spawn_app().await;
    let unknown_field = app
        .admin_post(
            "/admin/v1/environments",
            json!({"name": "X", "kind": "sandbox", "colour": "red"}),
        )
        .await;
    assert_eq!(unknown_field.status(), StatusCode::BAD_REQUEST);
    let body: Value = unknown_field.json().await.unwrap();
    assert_eq!(body["code"], "invalid_request");
    let malformed = app
        .admin(reqwest::Method::POST, "/admin/v1/users")
        .header("Content-Type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let not_json = app
        .admin(reqwest::Method::POST, "/admin/v1/users")
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = app
        .admin(reqwest::Method::POST, "/admin/v1/users")
        .header("Content-Type", "application/json")
        .body(format!("{{\"email\": \"{}\"}}", "a".repeat(300 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let wrong_type = app
        .admin_post("/admin/v1/users", json!({"email": 5, "name": "x"}))
        .await;
    assert_eq!(wrong_type.status(), StatusCode::BAD_REQUEST);
    let bad_query = app.admin_get("/admin/v1/users?limit=abc").await;
    assert_eq!(bad_query.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn secret_in_a_wrong_typed_body_is_not_echoed() {
    let app = spawn_app().await;
    let response = app
        .admin_post(
            "/admin/v1/users",
            json!({"email": "x@example.com", "name": "x", "password": ["hunter2-secret"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(!response.text().await.unwrap().contains("hunter2-secret"));
}

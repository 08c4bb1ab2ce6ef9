//! Bad input on every surface gets the dialect's 4xx, never a 500.

use countersign_test_support::spawn_app;
use countersign_test_support::{Call as _, Read as _};
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
        .post("/api/v3.5/authentication/apiUser")
        .header("Content-Type", "application/json")
        .body(body)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.value().await["errorCode"], "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn overlong_fields_are_400() {
    let app = spawn_app().await;
    let response = app.post("/api/v3.5/authentication/apiUser")
        .json(&json!({"request": {"apiUsername": "a".repeat(2000), "key": "k", "contextUsername": "c"}}))
        .call().await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn deeply_nested_json_is_400() {
    let app = spawn_app().await;
    let body = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = app
        .post("/api/v3.5/authentication/apiUser")
        .header("Content-Type", "application/json")
        .body(body)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn non_utf8_headers_are_refused_in_the_dialect() {
    let app = spawn_app().await;
    let value = reqwest::header::HeaderValue::from_bytes(b"bearer \xff\xfe").unwrap();
    let response = app
        .get("/v1/verify")
        .header("Authorization", value)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let context = reqwest::header::HeaderValue::from_bytes(b"bob\xff:x").unwrap();
    let response = app
        .get("/v1/verify")
        .header("Authorization", "bearer cst_x")
        .header("X-AS-UserContext", context)
        .call()
        .await;
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
    let body: Value = unknown_field.value().await;
    assert_eq!(body["code"], "invalid_request");
    let twice = app
        .admin(reqwest::Method::POST, "/admin/v1/environments")
        .header("Content-Type", "application/json")
        .body(r#"{"name": "X", "kind": "sandbox", "name": "Y"}"#)
        .call()
        .await;
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    assert_eq!(twice.value().await["code"], "invalid_request");
    let malformed = app
        .admin(reqwest::Method::POST, "/admin/v1/users")
        .header("Content-Type", "application/json")
        .body("{\"email\":")
        .call()
        .await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let not_json = app
        .admin(reqwest::Method::POST, "/admin/v1/users")
        .header("Content-Type", "text/plain")
        .body("x")
        .call()
        .await;
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = app
        .admin(reqwest::Method::POST, "/admin/v1/users")
        .header("Content-Type", "application/json")
        .body(format!("{{\"email\": \"{}\"}}", "a".repeat(300 * 1024)))
        .call()
        .await;
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
    assert!(!response.body().await.contains("hunter2-secret"));
}

/// `9999-12-31T23:59:59-01:00` is valid RFC 3339 whose instant in UTC is in the year 10000:
/// refused as a field error, never a crash, and never stored to break every later read.
#[tokio::test]
async fn times_past_the_year_9999_in_utc_are_field_errors() {
    let app = spawn_app().await;
    let beyond = "9999-12-31T23:59:59-01:00";
    let api_user = app
        .admin_post(
            "/admin/v1/api-users",
            json!({"username": "svc-far-future", "scope": {"type": "organization"},
                   "expires_at": beyond}),
        )
        .await;
    assert_eq!(api_user.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = api_user.value().await;
    assert_eq!(body["field"], "expires_at", "{body}");

    let key = app.create_integrator_key("Sunset", None).await;
    let id = key.id.as_str();
    let sunset = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/v1/integrator-keys/{id}"),
        )
        .json(&json!({"legacy_sunset_at": beyond}))
        .call()
        .await;
    assert_eq!(sunset.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let listed = app.admin_get("/admin/v1/integrator-keys").await;
    assert_eq!(
        listed.status(),
        StatusCode::OK,
        "nothing unreadable was stored"
    );

    let audit = app
        .admin_get("/admin/v1/audit?since=9999-12-31T23:59:59-01:00")
        .await;
    assert_eq!(audit.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Two `Authorization` headers on an admin call: which one is meant cannot be known, so
/// neither is used (even when one of them is valid).
#[tokio::test]
async fn a_repeated_authorization_header_on_the_admin_api_is_refused() {
    let app = spawn_app().await;
    for (first, second) in [
        (
            format!("Bearer {}", app.admin_token),
            "Bearer not-a-token".to_owned(),
        ),
        (
            format!("Bearer {}", app.admin_token),
            format!("Bearer {}", app.admin_token),
        ),
    ] {
        let response = app
            .get("/admin/v1/me")
            .header("Authorization", first)
            .header("Authorization", second)
            .call()
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.admin_get("/admin/v1/me").await.status(), StatusCode::OK);
}

/// A cursor that no page handed out is refused, never read as "from the start", and a JSON
/// `null` where a value is required is malformed, never "not sent".
#[tokio::test]
async fn damaged_cursors_and_nulls_for_required_values_are_refused() {
    let app = spawn_app().await;
    // A misspelt paging parameter is refused, not ignored.
    let typo = app.admin_get("/admin/v1/users?limt=5").await;
    assert_eq!(typo.status(), StatusCode::BAD_REQUEST);
    for cursor in ["", &"x".repeat(65)] {
        let response = app
            .admin_get(&format!("/admin/v1/users?cursor={cursor}"))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{cursor:?}"
        );
        let body: Value = response.value().await;
        assert_eq!(body["field"], "cursor");
    }
    for field in [
        "legacy_header_enabled",
        "api_user_max_lifetime_days",
        "expiry_warning_days",
        "leak_response",
    ] {
        let response = app
            .admin(reqwest::Method::PATCH, "/admin/v1/organization")
            .json(&json!({ field: null }))
            .call()
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{field}: null");
    }
    let user = app.create_user("nully@example.com", None).await;
    for body in [json!({"name": null}), json!({"status": null})] {
        let response = app
            .admin(reqwest::Method::PATCH, &format!("/admin/v1/users/{user}"))
            .json(&body)
            .call()
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let revoke_typo = app
        .admin(
            reqwest::Method::POST,
            "/admin/v1/api-users/00000000-0000-0000-0000-000000000000/revoke?wiat=true",
        )
        .call()
        .await;
    assert_eq!(revoke_typo.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn path_segments_that_are_not_utf8_get_each_dialects_refusal() {
    let app = spawn_app().await;
    let content_type = |response: &reqwest::Response| {
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    // Admin API, a route with two parameters: 400 problem+json.
    let two = app
        .admin(
            reqwest::Method::DELETE,
            "/admin/v1/environments/%FF/admins/%FF",
        )
        .call()
        .await;
    assert_eq!(two.status(), StatusCode::BAD_REQUEST);
    assert_eq!(content_type(&two), "application/problem+json");
    assert_eq!(two.value().await["code"], "invalid_request");
    // Admin API, a resource id: a segment that does not decode is a 400 too, while
    // well-formed text that is not an id is a 404 naming the resource.
    let one = app.admin_get("/admin/v1/users/%FF").await;
    assert_eq!(one.status(), StatusCode::BAD_REQUEST);
    assert_eq!(content_type(&one), "application/problem+json");
    assert_eq!(one.value().await["code"], "invalid_request");
    let unknown = app.admin_get("/admin/v1/users/not-an-id").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(content_type(&unknown), "application/problem+json");
    assert_eq!(unknown.value().await["detail"], "user not found");
    // Two ids: each names its own resource when it is not one.
    let user = app.create_user("pat@example.com", None).await;
    for (path, detail) in [
        (
            format!("/admin/v1/users/{user}/memberships/not-an-id"),
            "account not found",
        ),
        (
            "/admin/v1/users/not-an-id/memberships/x".to_owned(),
            "user not found",
        ),
    ] {
        let response = app.admin(reqwest::Method::DELETE, &path).call().await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.value().await["detail"], detail, "{path}");
    }
    // AssureSign discovery: the dialect's 400.
    let assuresign = app.get("/api/v3.6/users/%FF/accounts").call().await;
    assert_eq!(assuresign.status(), StatusCode::BAD_REQUEST);
    assert_eq!(content_type(&assuresign), "application/json; charset=utf-8");
    assert_eq!(assuresign.value().await["errorCode"], "BAD_REQUEST");
    // The console's paths: `console::session`, signed in (its ids are read after the session).
}

#[tokio::test]
async fn misspelled_filters_are_refused_not_ignored() {
    let app = spawn_app().await;
    for path in [
        "/admin/v1/audit?acton=admin.login",
        "/admin/v1/api-users?include_inactve=true",
        "/admin/v1/legacy-usage?integrator_key=x",
        "/admin/v1/legacy-usage/daily?key_id=x",
    ] {
        let response = app.admin_get(path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(response.value().await["code"], "invalid_request", "{path}");
    }
    // Spelled right, the same filters are read.
    let audit = app.admin_get("/admin/v1/audit?action=admin.login").await;
    assert_eq!(audit.status(), StatusCode::OK);
    let api_users = app
        .admin_get("/admin/v1/api-users?include_inactive=true")
        .await;
    assert_eq!(api_users.status(), StatusCode::OK);
}

#[tokio::test]
async fn query_text_that_does_not_decode_is_empty_or_repeated_is_refused() {
    let app = spawn_app().await;
    for path in [
        "/admin/v1/audit?actor=%FF",
        "/admin/v1/audit?actor=%E2%82",
        "/admin/v1/audit?action=%zz",
        "/admin/v1/audit?actor=a%00b",
        "/admin/v1/audit?action=admin.login&action=admin.login",
        "/admin/v1/api-users?limit=10&&include_inactive=true",
        "/admin/v1/api-users?limit=10&",
    ] {
        let response = app.admin_get(path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
    // A filter sent empty is a field error, not "no filter".
    for (path, field) in [
        ("/admin/v1/audit?actor=", "actor"),
        ("/admin/v1/audit?action=", "action"),
        (
            "/admin/v1/legacy-usage?integrator_key_id=",
            "integrator_key_id",
        ),
    ] {
        let response = app.admin_get(path).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}"
        );
        assert_eq!(response.value().await["field"], field, "{path}");
    }
    // The bound is 256 characters, not bytes.
    let wide = format!("/admin/v1/audit?actor={}", "%C3%A9".repeat(256));
    assert_eq!(app.admin_get(&wide).await.status(), StatusCode::OK);
    let long = format!("/admin/v1/audit?actor={}", "a".repeat(257));
    assert_eq!(
        app.admin_get(&long).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Escaped text that decodes is read.
    let audit = app.admin_get("/admin/v1/audit?action=admin%2Elogin").await;
    assert_eq!(audit.status(), StatusCode::OK);
    // DocuSign's login_information: the dialect's 400 before the credentials are read.
    for query in [
        "api_password=%FF",
        "api_password=true&api_password=false",
        "a=1&&b=2",
    ] {
        let response = app
            .get(&format!("/restapi/v2/login_information?{query}"))
            .call()
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            response.value().await["errorCode"],
            "INVALID_REQUEST_PARAMETER",
            "{query}"
        );
    }
}

#[tokio::test]
async fn a_token_request_naming_a_field_twice_in_any_case_is_400() {
    let app = spawn_app().await;
    let response = app
        .post("/api/v3.7/authentication/apiUser")
        .header("Content-Type", "application/json")
        .body(r#"{"request": {"apiUsername": "a", "APIUSERNAME": "b", "key": "k", "contextUsername": "c"}}"#)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.value().await;
    assert_eq!(body["errorCode"], "BAD_REQUEST");
    assert!(body.to_string().contains("named twice"), "{body}");
    // Control characters (a NUL cannot even be looked up) and objects nested past the limit.
    let nul = app
        .post("/api/v3.7/authentication/apiUser")
        .json(&json!({"request": {"apiUsername": "a\u{0}b", "key": "k", "contextUsername": "c"}}))
        .call()
        .await;
    assert_eq!(nul.status(), StatusCode::BAD_REQUEST);
    assert!(nul.value().await.to_string().contains("control characters"));
    let deep = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let deep = app
        .post("/api/v3.7/authentication/apiUser")
        .header("Content-Type", "application/json")
        .body(deep)
        .call()
        .await;
    assert_eq!(deep.status(), StatusCode::BAD_REQUEST);
}

/// A NUL in any text of the admin API (PostgreSQL cannot store or compare one) is a 4xx in
/// problem+json, never a store failure.
#[tokio::test]
async fn a_nul_in_admin_text_is_refused_not_a_store_failure() {
    let app = spawn_app().await;
    let env = app.create_environment("Sandbox", "sandbox").await;
    for (path, body) in [
        (
            "/admin/v1/environments",
            json!({"name": "a\u{0}b", "kind": "sandbox"}),
        ),
        (
            "/admin/v1/accounts",
            json!({"environment_id": env, "name": "a\u{0}b"}),
        ),
        (
            "/admin/v1/users",
            json!({"email": "a\u{0}b@example.com", "name": "A"}),
        ),
        (
            "/admin/v1/users",
            json!({"email": "ab@example.com", "name": "a\u{0}b"}),
        ),
        ("/admin/v1/integrator-keys", json!({"name": "a\u{0}b"})),
        (
            "/admin/v1/api-users",
            json!({"username": "a\u{0}b", "scope": {"type": "organization"}}),
        ),
        (
            "/admin/v1/webhooks",
            json!({"url": "https://example.com/a\u{0}b", "events": ["api_user.revoked"]}),
        ),
        (
            "/admin/v1/introspection-clients",
            json!({"name": "a\u{0}b"}),
        ),
    ] {
        let response = app.admin_post(path, body.clone()).await;
        assert!(
            response.status().is_client_error(),
            "{path} {body}: {}",
            response.status()
        );
    }
    // Any string of any body: refused before a field is read.
    let patch = app
        .admin(reqwest::Method::PATCH, "/admin/v1/organization")
        .json(&json!({"name": "a\u{0}b"}))
        .call()
        .await;
    assert_eq!(patch.status(), StatusCode::BAD_REQUEST);
    assert!(
        patch.value().await["detail"]
            .as_str()
            .unwrap()
            .contains("NUL")
    );
    let sign_in = app
        .post("/admin/v1/login")
        .json(&json!({"email": "a\u{0}b@example.com", "password": "x"}))
        .call()
        .await;
    assert!(sign_in.status().is_client_error(), "{}", sign_in.status());
    // Refused by the body's reader, before any lookup.
    assert_eq!(sign_in.status(), StatusCode::BAD_REQUEST);
    assert!(
        sign_in.value().await["detail"]
            .as_str()
            .unwrap()
            .contains("NUL")
    );
}

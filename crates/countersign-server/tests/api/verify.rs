//! Bearer verification at `/v1/verify`, `/v1/whoami` and account discovery: SPEC §3 rules
//! re-checked on every request.

use countersign_test_support::header;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{CreatedAccount, CreatedApiUser};
use countersign_test_support::{TestApp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A directory: Bob belongs to the bootstrap production account (his default), a second
/// production account and a sandbox account (also the discovery tests' world).
pub(super) struct World {
    pub(super) app: TestApp,
    pub(super) bob: String,
    pub(super) main: String,
    pub(super) main_number: String,
    pub(super) second: String,
    pub(super) sandbox_env: String,
    pub(super) sandbox: String,
}

pub(super) async fn world() -> World {
    let app = spawn_app().await;
    let bob = app.create_user("bob@mycompany.com", None).await;
    let main = app.account_id.clone();
    let CreatedAccount { id: second, .. } = app.create_account(&app.environment_id, "Second").await;
    let sandbox_env = app.create_environment("Sandbox", "sandbox").await;
    let CreatedAccount { id: sandbox, .. } =
        app.create_account(&sandbox_env, "Sandbox account").await;
    app.put_membership(&bob, &main, &["send"], true).await;
    app.put_membership(&bob, &second, &["send"], false).await;
    app.put_membership(&bob, &sandbox, &["send"], false).await;
    let accounts: Value = app
        .admin_get(&format!("/admin/v1/accounts/{main}"))
        .await
        .value()
        .await;
    let main_number = accounts["number"].as_str().unwrap().to_owned();
    World {
        app,
        bob,
        main,
        main_number,
        second,
        sandbox_env,
        sandbox,
    }
}

async fn org_token(w: &World) -> String {
    let CreatedApiUser { key, .. } = w
        .app
        .create_api_user("OrgBot", json!({"type": "organization"}))
        .await;
    w.app.token("OrgBot", &key, "bob@mycompany.com").await
}

#[tokio::test]
async fn verify_returns_identity_headers_for_the_default_account() {
    let w = world().await;
    let token = org_token(&w).await;
    let response = w.app.verify(&token, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-countersign-account"), w.main);
    assert_eq!(
        header(&response, "x-countersign-account-number"),
        w.main_number
    );
    assert_eq!(header(&response, "x-countersign-user-id"), w.bob);
    assert_eq!(
        header(&response, "x-countersign-user-email"),
        "bob@mycompany.com"
    );
    assert_eq!(header(&response, "x-countersign-actor"), "OrgBot");
    assert_eq!(
        header(&response, "x-countersign-auth-method"),
        "api_user_token"
    );
    assert_eq!(
        header(&response, "x-countersign-organization"),
        w.app.organization_id
    );
    assert_eq!(
        header(&response, "x-countersign-environment"),
        w.app.environment_id
    );
}

#[tokio::test]
async fn user_context_forms_choose_the_account() {
    let w = world().await;
    let token = org_token(&w).await;
    for context in [
        format!("bob@mycompany.com:{}", w.second),
        format!("bob@mycompany.com: {} ", w.second),
        format!("BOB@MYCOMPANY.COM:{}", w.second.to_uppercase()),
    ] {
        let response = w.app.verify(&token, Some(&context)).await;
        assert_eq!(response.status(), StatusCode::OK, "{context}");
        assert_eq!(
            header(&response, "x-countersign-account"),
            w.second,
            "{context}"
        );
    }
    for context in [
        "bob@mycompany.com",
        "bob@mycompany.com:",
        " bob@mycompany.com : ",
    ] {
        let response = w.app.verify(&token, Some(context)).await;
        assert_eq!(response.status(), StatusCode::OK, "{context}");
        assert_eq!(
            header(&response, "x-countersign-account"),
            w.main,
            "default account for {context:?}"
        );
    }
}

#[tokio::test]
async fn mismatched_user_context_is_403() {
    let w = world().await;
    let token = org_token(&w).await;
    let response = w
        .app
        .verify(&token, Some(&format!("eve@mycompany.com:{}", w.main)))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.value().await["errorCode"], "FORBIDDEN");
    let response = w
        .app
        .verify(
            &token,
            Some(&format!("bob@mycompany.com:{}", uuid::Uuid::new_v4())),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = w
        .app
        .verify(&token, Some("bob@mycompany.com:not-an-account"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ambiguous_account_needs_user_context() {
    let w = world().await;
    let token = org_token(&w).await;
    let bob = w.bob.clone();
    let main = w.main.clone();
    w.app.put_membership(&bob, &main, &["send"], false).await;
    let response = w.app.whoami(&token, None).await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "forward auth answers 403 for the dialect's 400"
    );
    let body: Value = response.value().await;
    assert_eq!(body["errorCode"], "BAD_REQUEST");
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("X-AS-UserContext")
    );
    let response = w
        .app
        .whoami(&token, Some(&format!("bob@mycompany.com:{}", w.second)))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn environment_scope_acts_only_within_its_accounts() {
    let w = world().await;
    let CreatedApiUser { key, .. } = w
        .app
        .create_api_user(
            "SandboxBot",
            json!({"type": "environment", "environment_id": w.sandbox_env}),
        )
        .await;
    let token = w.app.token("SandboxBot", &key, "bob@mycompany.com").await;
    let response = w.app.whoami(&token, None).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "only in-scope account is chosen"
    );
    let body: Value = response.value().await;
    assert_eq!(body["account_id"], w.sandbox);
    assert_eq!(body["environment_id"], w.sandbox_env);
    let response = w
        .app
        .verify(&token, Some(&format!("bob@mycompany.com:{}", w.main)))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A user with no account in the sandbox is outside the scope.
    let carol = w.app.create_user("carol@mycompany.com", None).await;
    w.app.put_membership(&carol, &w.main, &["send"], true).await;
    assert_eq!(
        w.app
            .exchange("SandboxBot", &key, "carol@mycompany.com")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn user_scope_acts_only_as_its_user() {
    let w = world().await;
    let CreatedApiUser { key, .. } = w
        .app
        .create_api_user("BobBot", json!({"type": "user", "user_id": w.bob}))
        .await;
    let token = w.app.token("BobBot", &key, "bob@mycompany.com").await;
    assert_eq!(w.app.verify(&token, None).await.status(), StatusCode::OK);
    let carol = w.app.create_user("carol@mycompany.com", None).await;
    w.app.put_membership(&carol, &w.main, &["send"], true).await;
    assert_eq!(
        w.app
            .exchange("BobBot", &key, "carol@mycompany.com")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn organization_scope_acts_for_any_user_in_any_account() {
    let w = world().await;
    let CreatedApiUser { key, .. } = w
        .app
        .create_api_user("OrgBot", json!({"type": "organization"}))
        .await;
    let carol = w.app.create_user("carol@mycompany.com", None).await;
    w.app
        .put_membership(&carol, &w.sandbox, &["send"], true)
        .await;
    let token = w.app.token("OrgBot", &key, "carol@mycompany.com").await;
    let response = w.app.whoami(&token, None).await;
    assert_eq!(response.value().await["account_id"], w.sandbox);
}

#[tokio::test]
async fn revoking_the_api_user_refuses_issued_tokens_at_once() {
    let w = world().await;
    let CreatedApiUser { id, key } = w
        .app
        .create_api_user("OrgBot", json!({"type": "organization"}))
        .await;
    let token = w.app.token("OrgBot", &key, "bob@mycompany.com").await;
    assert_eq!(w.app.verify(&token, None).await.status(), StatusCode::OK);
    w.app
        .admin_post(&format!("/admin/v1/api-users/{id}/revoke"), json!({}))
        .await;
    let response = w.app.verify(&token, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "www-authenticate"),
        "Bearer realm=\"countersign\", error=\"invalid_token\""
    );
}

#[tokio::test]
async fn deleting_the_api_user_refuses_issued_tokens_at_once() {
    let w = world().await;
    let CreatedApiUser { id, key } = w
        .app
        .create_api_user("OrgBot", json!({"type": "organization"}))
        .await;
    let token = w.app.token("OrgBot", &key, "bob@mycompany.com").await;
    w.app
        .admin(Method::DELETE, &format!("/admin/v1/api-users/{id}"))
        .call()
        .await;
    assert_eq!(
        w.app.verify(&token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn api_user_expiry_ends_issued_tokens() {
    let w = world().await;
    let expires_at = (w.app.now() + time::Duration::hours(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let created: Value = w
        .app
        .admin_post("/admin/v1/api-users", json!({"username": "Brief", "scope": {"type": "organization"}, "expires_at": expires_at}))
        .await
        .value().await;
    let token = w
        .app
        .token(
            "Brief",
            created["key"].as_str().unwrap(),
            "bob@mycompany.com",
        )
        .await;
    w.app.advance(time::Duration::minutes(59));
    assert_eq!(w.app.verify(&token, None).await.status(), StatusCode::OK);
    w.app.advance(time::Duration::minutes(2));
    assert_eq!(
        w.app.verify(&token, None).await.status(),
        StatusCode::UNAUTHORIZED,
        "session of 60 minutes ended"
    );
}

#[tokio::test]
async fn disabling_the_user_refuses_issued_tokens_at_once() {
    let w = world().await;
    let token = org_token(&w).await;
    w.app
        .admin(Method::PATCH, &format!("/admin/v1/users/{}", w.bob))
        .json(&json!({"status": "disabled"}))
        .call()
        .await;
    assert_eq!(
        w.app.verify(&token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    w.app
        .admin(Method::PATCH, &format!("/admin/v1/users/{}", w.bob))
        .json(&json!({"status": "active"}))
        .call()
        .await;
    assert_eq!(w.app.verify(&token, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn removing_a_membership_takes_effect_on_the_next_request() {
    let w = world().await;
    let token = org_token(&w).await;
    let context = format!("bob@mycompany.com:{}", w.second);
    assert_eq!(
        w.app.verify(&token, Some(&context)).await.status(),
        StatusCode::OK
    );
    let response = w
        .app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/users/{}/memberships/{}", w.bob, w.second),
        )
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        w.app.verify(&token, Some(&context)).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn rotation_keeps_the_old_key_for_the_grace_period_only() {
    let w = world().await;
    let CreatedApiUser { id, key: old_key } = w
        .app
        .create_api_user("Rotor", json!({"type": "organization"}))
        .await;
    let old_token = w.app.token("Rotor", &old_key, "bob@mycompany.com").await;
    let rotated: Value = w
        .app
        .admin_post(
            &format!("/admin/v1/api-users/{id}/rotate"),
            json!({"grace_minutes": 10}),
        )
        .await
        .value()
        .await;
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, old_key);
    w.app.token("Rotor", &old_key, "bob@mycompany.com").await;
    let new_token = w.app.token("Rotor", &new_key, "bob@mycompany.com").await;
    assert_eq!(
        w.app.verify(&old_token, None).await.status(),
        StatusCode::OK
    );
    w.app.advance(time::Duration::minutes(11));
    assert_eq!(
        w.app
            .exchange("Rotor", &old_key, "bob@mycompany.com")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.app.verify(&old_token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.app.verify(&new_token, None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn rotation_without_grace_ends_the_old_key_at_once() {
    let w = world().await;
    let CreatedApiUser { id, key: old_key } = w
        .app
        .create_api_user("Rotor", json!({"type": "organization"}))
        .await;
    w.app
        .admin_post(
            &format!("/admin/v1/api-users/{id}/rotate"),
            json!({"grace_minutes": 0}),
        )
        .await;
    assert_eq!(
        w.app
            .exchange("Rotor", &old_key, "bob@mycompany.com")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn path_account_must_be_one_the_user_may_use() {
    let w = world().await;
    let token = org_token(&w).await;
    let other_env = w.app.create_environment("Other", "production").await;
    let CreatedAccount {
        id: foreign,
        number: foreign_number,
    } = w.app.create_account(&other_env, "Foreign").await;
    let get = |uri: String| {
        w.app
            .get("/v1/verify")
            .header("Authorization", format!("Bearer {token}"))
            .header("X-Original-URI", uri)
            .send()
    };
    let response = get(format!(
        "/restapi/v2.1/accounts/{}/envelopes",
        w.main_number
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = get(format!("/restapi/v2.1/accounts/{}/envelopes", w.second))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-countersign-account"), w.second);
    for uri in [
        format!("/restapi/v2.1/accounts/{foreign}/envelopes"),
        format!("/restapi/v2.1/accounts/{foreign_number}/envelopes"),
        "/restapi/v2.1/accounts/99999999/envelopes".to_owned(),
    ] {
        let response = get(uri.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{uri}");
    }
    let forwarded = w
        .app
        .get("/v1/verify")
        .header("Authorization", format!("Bearer {token}"))
        .header("X-Forwarded-Uri", format!("/api/accounts/{foreign}/x"))
        .call()
        .await;
    assert_eq!(
        forwarded.status(),
        StatusCode::FORBIDDEN,
        "Traefik header honoured"
    );
}

#[tokio::test]
async fn missing_credentials_get_401_without_error_code() {
    let w = world().await;
    let response = w.app.get("/v1/verify").call().await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "www-authenticate"),
        "Bearer realm=\"countersign\""
    );
    let response = w.app.verify("cst_garbage", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&response, "www-authenticate").contains("invalid_token"));
    let response = w
        .app
        .get("/v1/whoami")
        .header("Authorization", "BEARER    ")
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tampered_token_is_refused() {
    let w = world().await;
    let token = org_token(&w).await;
    let mut bytes = token.into_bytes();
    let last = bytes.len() - 10;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(
        w.app.verify(&tampered, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn account_discovery_lists_in_scope_accounts() {
    let w = world().await;
    let CreatedApiUser { key, .. } = w
        .app
        .create_api_user(
            "SandboxBot",
            json!({"type": "environment", "environment_id": w.sandbox_env}),
        )
        .await;
    let token = w.app.token("SandboxBot", &key, "bob@mycompany.com").await;
    let response = w
        .app
        .get("/api/v3.6/users/bob@mycompany.com/accounts")
        .header("Authorization", format!("bearer {token}"))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    assert_eq!(body["messages"], json!([]));
    assert_eq!(
        body["result"]["userAccounts"],
        json!([{"accountID": w.sandbox, "accountName": "Sandbox account", "isDefault": false, "isDisabled": false}])
    );
    let org = org_token(&w).await;
    let body: Value = w
        .app
        .get("/api/v3.6/users/BOB@mycompany.com/accounts")
        .header("Authorization", format!("bearer {org}"))
        .call()
        .await
        .value()
        .await;
    assert_eq!(body["result"]["userAccounts"].as_array().unwrap().len(), 3);
    let response = w
        .app
        .get("/api/v3.6/users/eve@mycompany.com/accounts")
        .header("Authorization", format!("bearer {org}"))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn whoami_reports_the_principal() {
    let w = world().await;
    let token = org_token(&w).await;
    let body: Value = w.app.whoami(&token, None).await.value().await;
    assert_eq!(body["user_email"], "bob@mycompany.com");
    assert_eq!(body["actor"], "OrgBot");
    assert_eq!(body["auth_method"], "api_user_token");
    assert_eq!(body["account_id"], w.main);
    assert!(body["expires_at"].is_string());
}

#[tokio::test]
async fn introspection_reports_active_tokens_with_the_acting_api_user() {
    let w = world().await;
    let CreatedApiUser { id, key } = w
        .app
        .create_api_user("Introspected", json!({"type": "organization"}))
        .await;
    let token = w.app.token("Introspected", &key, "bob@mycompany.com").await;
    let introspect = |token: String| {
        w.app
            .admin(Method::POST, "/v1/introspect")
            .form(&[("token", token)])
            .send()
    };
    let body: Value = introspect(token.clone()).await.unwrap().value().await;
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], "Introspected");
    assert_eq!(body["act"]["sub"], "Introspected");
    assert_eq!(body["sub"], w.bob.as_str());
    assert_eq!(body["username"], "bob@mycompany.com");
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());
    w.app
        .admin_post(&format!("/admin/v1/api-users/{id}/revoke"), json!({}))
        .await;
    let body: Value = introspect(token.clone()).await.unwrap().value().await;
    assert_eq!(
        body,
        json!({"active": false}),
        "a revoked token is inactive and says nothing more"
    );
    let body: Value = introspect("cst_garbage".into())
        .await
        .unwrap()
        .value()
        .await;
    assert_eq!(body, json!({"active": false}));
    let anonymous = w
        .app
        .post("/v1/introspect")
        .form(&[("token", token)])
        .call()
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

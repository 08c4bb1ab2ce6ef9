//! Moving a legacy-header integration to the OAuth JWT Grant (SPEC §11, §12): the plan names
//! `jwt_grant`, and `migrate {"target": "jwt_grant"}` consents for exactly the users the
//! recorded traffic acted as, generates an RSA pair and answers the `docusign-esign` snippet.

use crate::oauth_jwt::{audience, sign, token_request, verify};
use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::spawn_app;
use countersign_test_support::{Call as _, Read as _};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "service-password-9";

#[tokio::test]
async fn migrating_to_the_jwt_grant_consents_for_exactly_the_users_acted_as() {
    let app = spawn_app().await;
    let created = app.create_integrator_key("Acme ERP", None).await;
    let key_id = created.id.clone();
    let key = created.key.clone();
    let service = app
        .create_user("service@acme.example", Some(PASSWORD))
        .await;
    app.put_membership(
        &service,
        &app.account_id,
        &["send", "sobo", "account_wide"],
        true,
    )
    .await;
    let alice = app.create_sender("alice@acme.example", None).await;
    let bob = app.create_sender("bob@acme.example", None).await;
    let migrate = |body: Value| {
        let app = &app;
        let key_id = key_id.clone();
        async move {
            app.admin_post(&format!("/admin/v1/integrator-keys/{key_id}/migrate"), body)
                .await
        }
    };
    // Nothing recorded yet.
    let early = migrate(json!({"target": "jwt_grant"})).await;
    assert_eq!(early.status(), StatusCode::CONFLICT);
    assert_eq!(early.value().await["code"], "no_legacy_usage");
    // Legacy traffic: the service as itself, and on behalf of Alice (never Bob).
    for sobo in [None, Some("alice@acme.example")] {
        let header = build_header(
            HeaderFormat::Json,
            "service@acme.example",
            PASSWORD,
            &key,
            sobo,
        );
        let response = app.verify_legacy(header).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let plan: Value = app
        .admin_post(
            &format!("/admin/v1/integrator-keys/{key_id}/migration-plan"),
            json!({}),
        )
        .await
        .value()
        .await;
    assert_eq!(plan["target"], "jwt_grant", "{plan}");
    let wrong = migrate(json!({"target": "jwt_grant", "username": "x"})).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = migrate(json!({"target": "saml"})).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let response = migrate(json!({"target": "jwt_grant"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let migrated: Value = response.value().await;
    let mut consented: Vec<String> = migrated["consented_user_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    consented.sort();
    let mut expected = vec![service.clone(), alice.clone()];
    expected.sort();
    assert_eq!(consented, expected);
    let private_pem = migrated["rsa_key"]["private_key_pem"].as_str().unwrap();
    assert!(private_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let snippet = migrated["snippet"].as_str().unwrap();
    assert!(snippet.contains("request_jwt_user_token"), "{snippet}");
    assert!(snippet.contains(&alice), "{snippet}");
    assert!(snippet.contains(&audience(&app)), "{snippet}");
    // The key's RSA keys hold the new public key, and never the private one.
    let keys: Value = app
        .admin_get(&format!("/admin/v1/integrator-keys/{key_id}/rsa-keys"))
        .await
        .value()
        .await;
    assert_eq!(keys["items"][0]["id"], migrated["rsa_key"]["id"]);
    assert!(!keys.to_string().contains("PRIVATE"));

    // The JWT Grant now works for Alice and the service, not for Bob.
    let now = app.now().unix_timestamp();
    let claims = |sub: &str| {
        json!({"iss": key, "sub": sub, "aud": audience(&app), "iat": now, "exp": now + 3600,
            "scope": "signature impersonation"})
    };
    let answer: Value = token_request(&app, &sign(private_pem, &claims(&alice)))
        .await
        .value()
        .await;
    let token = answer["access_token"].as_str().unwrap();
    let verified = verify(&app, token, "/restapi/v2.1/diagnostics").await;
    assert_eq!(verified.status(), StatusCode::OK);
    assert_eq!(verified.headers()["x-countersign-user-id"], alice.as_str());
    assert_eq!(
        token_request(&app, &sign(private_pem, &claims(&service)))
            .await
            .status(),
        StatusCode::OK
    );
    let refused: Value = token_request(&app, &sign(private_pem, &claims(&bob)))
        .await
        .value()
        .await;
    assert_eq!(refused["error"], "consent_required");
    // A second migration when the key holds its five RSA keys is refused before anything is
    // written: the administrator's wider consent stays as it is.
    for _ in 0..4 {
        let added = app
            .admin_post(
                &format!("/admin/v1/integrator-keys/{key_id}/rsa-keys"),
                json!({"generate": true}),
            )
            .await;
        assert_eq!(added.status(), StatusCode::CREATED);
    }
    let consent_path = format!("/admin/v1/integrator-keys/{key_id}/consent");
    let everyone = app
        .admin(reqwest::Method::PUT, &consent_path)
        .json(&json!({"scopes": ["signature", "impersonation"], "user_ids": "all"}))
        .call()
        .await;
    assert_eq!(everyone.status(), StatusCode::OK);
    let before: Value = app.admin_get(&consent_path).await.value().await;
    let full = migrate(json!({"target": "jwt_grant"})).await;
    assert_eq!(full.status(), StatusCode::CONFLICT);
    assert_eq!(full.value().await["code"], "too_many_keys");
    let after: Value = app.admin_get(&consent_path).await.value().await;
    assert_eq!(before, after, "the consent is untouched");
    // The API-user migration still works with the same endpoint.
    let expires_at = (app.now() + time::Duration::days(365)).date().to_string();
    let api_user = migrate(json!({"username": "acme-erp-api", "expires_at": expires_at})).await;
    assert_eq!(api_user.status(), StatusCode::CREATED);
    assert!(
        api_user.value().await["key"]
            .as_str()
            .unwrap()
            .starts_with("csk_")
    );
}

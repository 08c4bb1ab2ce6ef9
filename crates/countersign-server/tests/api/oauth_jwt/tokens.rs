//! What a JWT Grant access token reaches: signature rules, application tokens, user info, the
//! re-check on the next request, expiry, RSA keys and introspection.

use super::*;

/// Unsigned (`alg: none`), HS256 keyed with the public key, and a `kid` pointing nowhere.
#[tokio::test]
async fn alg_none_and_hs256_with_the_public_key_are_refused() {
    use base64::Engine;
    let app = spawn_app().await;
    let client = jwt_client(&app).await;
    let claims = user_claims(&app, &client);
    let b64 =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    expect_error(
        &app,
        &unsigned,
        "invalid_grant",
        Some("no_valid_keys_or_signatures"),
    )
    .await;
    let keys: Value = app
        .admin_get(&format!(
            "/admin/v1/integrator-keys/{}/rsa-keys",
            client.key_id
        ))
        .await
        .value()
        .await;
    let public_pem = keys["items"][0]["public_key_pem"].as_str().unwrap();
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    expect_error(
        &app,
        &hs256,
        "invalid_grant",
        Some("no_valid_keys_or_signatures"),
    )
    .await;
    // A kid is not needed, and one naming nothing does not matter: every key is tried.
    let der = rsa::RsaPrivateKey::from_pkcs1_pem(&client.private_pem)
        .unwrap()
        .to_pkcs1_der()
        .unwrap();
    let mut with_kid = Header::new(Algorithm::RS256);
    with_kid.kid = Some("whatever".into());
    let kid_signed = jsonwebtoken::encode(
        &with_kid,
        &claims,
        &EncodingKey::from_rsa_der(der.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        token_request(&app, &kid_signed).await.status(),
        StatusCode::OK
    );
    // Tampered claims keep the original signature: refused.
    let signed = sign(&client.private_pem, &claims);
    let parts: Vec<&str> = signed.split('.').collect();
    let mut forged_claims = claims.clone();
    forged_claims["sub"] = json!(app.admin_user_id);
    let forged = format!("{}.{}.{}", parts[0], b64(&forged_claims), parts[2]);
    expect_error(
        &app,
        &forged,
        "invalid_grant",
        Some("no_valid_keys_or_signatures"),
    )
    .await;
}

#[tokio::test]
async fn an_application_token_acts_in_no_account() {
    let app = spawn_app().await;
    let client = jwt_client(&app).await;
    let mut claims = user_claims(&app, &client);
    claims.as_object_mut().unwrap().remove("sub");
    claims["scope"] = json!("signature");
    let token = access_token(&app, &claims, &client.private_pem).await;
    let verified = verify(&app, &token, "/restapi/v2.1/diagnostics").await;
    assert_eq!(verified.status(), StatusCode::OK);
    assert_eq!(
        header(&verified, "x-countersign-auth-method").as_deref(),
        Some("oauth_application")
    );
    assert_eq!(
        header(&verified, "x-countersign-actor").as_deref(),
        Some(client.key.as_str())
    );
    assert!(header(&verified, "x-countersign-user-id").is_none());
    assert!(header(&verified, "x-countersign-account").is_none());
    assert_eq!(
        header(&verified, "x-countersign-organization").as_deref(),
        Some(app.organization_id.as_str())
    );
    let path = format!("/restapi/v2.1/accounts/{}/envelopes", client.account_number);
    assert_eq!(
        verify(&app, &token, &path).await.status(),
        StatusCode::FORBIDDEN
    );
    let whoami: Value = app.whoami(&token, None).await.value().await;
    assert_eq!(whoami["auth_method"], "oauth_application");
    assert!(whoami.get("user_id").is_none(), "{whoami}");
    // An empty sub is nobody, never an application token.
    claims["sub"] = json!("");
    claims["scope"] = json!("signature impersonation");
    expect_error(
        &app,
        &sign(&client.private_pem, &claims),
        "invalid_grant",
        Some("user_not_found"),
    )
    .await;
    // And an application token has no user to describe.
    let info = app.get_as(&token, "/oauth/userinfo").await;
    assert_eq!(info.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn userinfo_describes_the_user_and_accounts_default_first() {
    let app = spawn_app().await;
    let client = jwt_client(&app).await;
    let environment = app.create_environment("Second", "sandbox").await;
    let second = app.create_account(&environment, "Second account").await.id;
    app.put_membership(&client.user_id, &second, &["send"], false)
        .await;
    let token = access_token(&app, &user_claims(&app, &client), &client.private_pem).await;
    let response = app.get_as(&token, "/oauth/userinfo").await;
    assert_eq!(response.status(), StatusCode::OK);
    let info: Value = response.value().await;
    assert_eq!(info["sub"], client.user_id.as_str());
    assert_eq!(info["email"], "signer@example.com");
    assert!(info["created"].as_str().unwrap().ends_with('Z'), "{info}");
    let accounts = info["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0]["account_id"], app.account_id.as_str());
    assert_eq!(accounts[0]["is_default"], true);
    assert_eq!(accounts[1]["is_default"], false);
    assert_eq!(accounts[1]["account_name"], "Second account");
    assert_eq!(accounts[0]["base_uri"], app.base.as_str());
    let anonymous = app.get("/oauth/userinfo").call().await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        header(&anonymous, "www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn a_disabled_user_a_removed_membership_and_a_withdrawn_consent_refuse_the_next_request() {
    let app = spawn_app().await;
    let client = jwt_client(&app).await;
    let claims = user_claims(&app, &client);
    let path = format!("/restapi/v2.1/accounts/{}/envelopes", client.account_number);
    // Membership removed: that account is refused at once.
    let token = access_token(&app, &claims, &client.private_pem).await;
    assert_eq!(verify(&app, &token, &path).await.status(), StatusCode::OK);
    let removed = app
        .admin(
            Method::DELETE,
            &format!(
                "/admin/v1/users/{}/memberships/{}",
                client.user_id, app.account_id
            ),
        )
        .call()
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        verify(&app, &token, &path).await.status(),
        StatusCode::FORBIDDEN
    );
    app.put_membership(&client.user_id, &app.account_id, &["send"], true)
        .await;
    assert_eq!(verify(&app, &token, &path).await.status(), StatusCode::OK);
    // Consent withdrawn by the administrator (the list no longer names the user).
    consent(&app, &client.key_id, json!([])).await;
    assert_eq!(
        verify(&app, &token, &path).await.status(),
        StatusCode::UNAUTHORIZED
    );
    expect_error(
        &app,
        &sign(&client.private_pem, &claims),
        "consent_required",
        None,
    )
    .await;
    consent(&app, &client.key_id, json!("all")).await;
    assert_eq!(verify(&app, &token, &path).await.status(), StatusCode::OK);
    // Disabled user: refused, and no new token either.
    let disabled = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/users/{}", client.user_id),
        )
        .json(&json!({"status": "disabled"}))
        .call()
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    let refused = verify(&app, &token, &path).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        header(&refused, "www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(
        refused.value().await["errorCode"],
        "AUTHORIZATION_INVALID_TOKEN"
    );
    expect_error(
        &app,
        &sign(&client.private_pem, &claims),
        "invalid_grant",
        Some("user_not_found"),
    )
    .await;
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let app = spawn_app().await;
    let client = jwt_client(&app).await;
    let token = access_token(&app, &user_claims(&app, &client), &client.private_pem).await;
    assert_eq!(
        verify(&app, &token, "/restapi/v2.1/diagnostics")
            .await
            .status(),
        StatusCode::OK
    );
    app.advance(time::Duration::seconds(3600));
    assert_eq!(
        verify(&app, &token, "/restapi/v2.1/diagnostics")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn rsa_keys_are_five_at_most_and_never_a_private_key() {
    let app = spawn_app().await;
    let client = jwt_client(&app).await;
    let path = format!("/admin/v1/integrator-keys/{}/rsa-keys", client.key_id);
    let keys: Value = app.admin_get(&path).await.value().await;
    let public_pem = keys["items"][0]["public_key_pem"]
        .as_str()
        .unwrap()
        .to_owned();
    let duplicate = app
        .admin_post(&path, json!({"public_key_pem": public_pem}))
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    let private = app
        .admin_post(&path, json!({"public_key_pem": client.private_pem}))
        .await;
    assert_eq!(private.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let listed: Value = app.admin_get(&path).await.value().await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "the private key was not stored"
    );
    let neither = app.admin_post(&path, json!({})).await;
    assert_eq!(neither.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for _ in 0..4 {
        assert_eq!(
            app.admin_post(&path, json!({"generate": true}))
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    let sixth = app.admin_post(&path, json!({"generate": true})).await;
    assert_eq!(sixth.status(), StatusCode::CONFLICT);
    assert_eq!(sixth.value().await["code"], "too_many_keys");
    // The first key deleted: its assertions are refused.
    let first = listed["items"][0]["id"].as_str().unwrap();
    let deleted = app
        .admin(Method::DELETE, &format!("{path}/{first}"))
        .call()
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_error(
        &app,
        &sign(&client.private_pem, &user_claims(&app, &client)),
        "invalid_grant",
        Some("no_valid_keys_or_signatures"),
    )
    .await;
}

#[tokio::test]
async fn introspection_describes_an_oauth_access_token() {
    let app = spawn_app().await;
    let client = jwt_client(&app).await;
    let token = access_token(&app, &user_claims(&app, &client), &client.private_pem).await;
    let answer: Value = app
        .post("/v1/introspect")
        .bearer_auth(&app.admin_token)
        .form(&[("token", token.as_str())])
        .call()
        .await
        .value()
        .await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["client_id"], client.key.as_str());
    assert_eq!(answer["sub"], client.user_id.as_str());
    assert_eq!(answer["scope"], "signature impersonation");
    assert_eq!(answer["token_type"], "Bearer");
    consent(&app, &client.key_id, json!([])).await;
    let answer: Value = app
        .post("/v1/introspect")
        .bearer_auth(&app.admin_token)
        .form(&[("token", token.as_str())])
        .call()
        .await
        .value()
        .await;
    assert_eq!(answer, json!({"active": false}));
}

/// Failed assertions are counted against their issuer: past the threshold, the issuer's next
/// assertion is answered 429 with `Retry-After` before any signature is checked.
#[tokio::test]
async fn failed_assertions_throttle_their_integrator_key() {
    let app = countersign_test_support::spawn_app_with(|config| {
        config.throttle.integrator_key_failures = 3;
    })
    .await;
    let client = jwt_client(&app).await;
    consent(&app, &client.key_id, json!("all")).await;
    let claims = user_claims(&app, &client);
    let good = sign(&client.private_pem, &claims);
    // The same assertion with its signature's first character changed.
    let (signed, signature) = good.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{signed}.{first}{}", &signature[1..]);
    for _ in 0..3 {
        expect_error(
            &app,
            &forged,
            "invalid_grant",
            Some("no_valid_keys_or_signatures"),
        )
        .await;
    }
    let throttled = token_request(&app, &good).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&throttled, "retry-after").is_some());
}

//! Client authentication, the redirect URI and expiry binding a code, and PKCE for public clients.

use super::*;

#[tokio::test]
async fn client_authentication_redirect_uri_and_expiry_bind_the_code() {
    let app = countersign_test_support::spawn_app().await;
    let client = code_client(&app, true).await;
    let browser = Browser::new(&app, None);
    // A wrong secret: 401 invalid_client; no authentication at all: the same.
    let code = accepted_code(&app, &client, &browser).await;
    let wrong = app
        .post("/oauth/token")
        .basic_auth(&client.key, Some("csos_wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .call()
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(wrong.value().await["error"], "invalid_client");
    let anonymous = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", client.key.as_str()),
        ])
        .call()
        .await;
    assert_eq!(
        anonymous.status(),
        StatusCode::UNAUTHORIZED,
        "a key with a secret must authenticate"
    );
    // client_secret_post works as well.
    let posted = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", client.key.as_str()),
            ("client_secret", client.secret.as_deref().unwrap()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .call()
        .await;
    tokens(posted).await;
    // Another redirect_uri than the authorization request's.
    let code = accepted_code(&app, &client, &browser).await;
    let (_, error) = error_of(
        redeem(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9/cb"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    // Five minutes later a code is dead.
    let code = accepted_code(&app, &client, &browser).await;
    app.advance(time::Duration::seconds(301));
    let (_, error) = error_of(redeem_code(&app, &client, &code).await).await;
    assert_eq!(error, "invalid_grant");
    let (_, error) = error_of(
        redeem(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", "csc_not-a-code"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn a_public_client_must_use_pkce_s256() {
    use base64::Engine;
    use sha2::Digest;
    let app = countersign_test_support::spawn_app().await;
    let client = code_client(&app, false).await;
    let browser = Browser::new(&app, None);
    // No challenge: back to the client with invalid_request, before any sign-in.
    let refused = browser.get(&authorization_uri(&app, &client, "")).await;
    assert_eq!(refused.status(), StatusCode::FOUND);
    let answer = parameters(refused.headers()[LOCATION].to_str().unwrap(), false);
    assert_eq!(answer["error"], "invalid_request");
    assert_eq!(answer["state"], "st ate");
    let plain = browser
        .get(&authorization_uri(
            &app,
            &client,
            "&code_challenge=abc&code_challenge_method=plain",
        ))
        .await;
    assert_eq!(
        parameters(plain.headers()[LOCATION].to_str().unwrap(), false)["error"],
        "invalid_request"
    );
    let verifier = "a-pkce-verifier-of-more-than-forty-three-characters-0123";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let extra = format!("&code_challenge={challenge}&code_challenge_method=S256");
    let code = parameters(
        &browser
            .authorize(
                &authorization_uri(&app, &client, &extra),
                &client.email,
                "accept",
            )
            .await,
        false,
    )["code"]
        .clone();
    let redeem_with = |verifier: &'static str, code: String| {
        let app = &app;
        let key = client.key.clone();
        async move {
            app.post("/oauth/token")
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("client_id", key.as_str()),
                    ("code_verifier", verifier),
                ])
                .call()
                .await
        }
    };
    let (_, error) = error_of(
        redeem_with(
            "a-wrong-verifier-of-more-than-forty-three-characters-xyz",
            code,
        )
        .await,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    let code = parameters(
        &browser
            .authorize(
                &authorization_uri(&app, &client, &extra),
                &client.email,
                "accept",
            )
            .await,
        false,
    )["code"]
        .clone();
    let body = tokens(
        redeem_with(
            "a-pkce-verifier-of-more-than-forty-three-characters-0123",
            code,
        )
        .await,
    )
    .await;
    // A public client refreshes with its client_id alone.
    let refreshed = app
        .post("/oauth/token")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("client_id", client.key.as_str()),
        ])
        .call()
        .await;
    tokens(refreshed).await;
}

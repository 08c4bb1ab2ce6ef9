//! The pages a browser sees: unregistered redirect URIs, deny, the implicit grant, consent given
//! once and withdrawn.

use super::*;

#[tokio::test]
async fn unregistered_redirect_uris_and_unknown_clients_get_a_page_and_never_a_redirect() {
    let app = countersign_test_support::spawn_app().await;
    let client = code_client(&app, true).await;
    let browser = Browser::new(&app, None);
    for uri in [
        format!(
            "{}/oauth/auth?response_type=code&scope=signature&client_id={}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
            app.base, client.key
        ),
        format!(
            "{}/oauth/auth?response_type=code&scope=signature&client_id={}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback%2F",
            app.base, client.key
        ),
        format!(
            "{}/oauth/auth?response_type=code&scope=signature&client_id=nobody&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback",
            app.base
        ),
        format!(
            "{}/oauth/auth?response_type=code&client_id={}&client_id={}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback",
            app.base, client.key, client.key
        ),
    ] {
        let response = browser.get(&uri).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(response.headers().get(LOCATION).is_none());
        assert!(response.body().await.contains("not sent back"));
    }
    // Recoverable errors go back to the client.
    let scope = browser
        .get(&authorization_uri(&app, &client, "").replace("scope=signature", "scope=root"))
        .await;
    assert_eq!(
        parameters(scope.headers()[LOCATION].to_str().unwrap(), false)["error"],
        "invalid_scope"
    );
    // Every error sent back carries the client's state, whatever the check that failed.
    for (response_type, error) in [
        ("response_type=id_token&", "unsupported_response_type"),
        ("", "invalid_request"),
    ] {
        let uri =
            authorization_uri(&app, &client, "").replace("response_type=code&", response_type);
        let answer = browser.get(&uri).await;
        let sent_back = parameters(answer.headers()[LOCATION].to_str().unwrap(), false);
        assert_eq!(sent_back["error"], error, "{uri}");
        assert_eq!(sent_back["state"], "st ate", "{uri}");
    }
    let implicit = browser
        .get(
            &authorization_uri(&app, &client, "")
                .replace("response_type=code", "response_type=token"),
        )
        .await;
    let location = implicit.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(
        parameters(&location, true)["error"],
        "unauthorized_client",
        "{location}"
    );
}

#[tokio::test]
async fn deny_sends_access_denied_and_the_implicit_grant_answers_in_the_fragment_where_allowed() {
    let app = countersign_test_support::spawn_app().await;
    let client = code_client(&app, true).await;
    let browser = Browser::new(&app, None);
    let denied = browser
        .authorize(&authorization_uri(&app, &client, ""), &client.email, "deny")
        .await;
    let answer = parameters(&denied, false);
    assert_eq!(answer["error"], "access_denied");
    assert_eq!(answer["state"], "st ate");
    assert!(!answer.contains_key("code"));
    let allowed = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/integrator-keys/{}", client.key_id),
        )
        .json(&json!({"allow_implicit": true}))
        .call()
        .await;
    assert_eq!(allowed.value().await["allow_implicit"], true);
    let uri =
        authorization_uri(&app, &client, "").replace("response_type=code", "response_type=token");
    let location = browser.authorize(&uri, &client.email, "accept").await;
    let fragment = parameters(&location, true);
    assert_eq!(fragment["token_type"], "bearer");
    assert_eq!(fragment["expires_in"], "3600");
    assert_eq!(fragment["state"], "st ate");
    let verified = verify(&app, &fragment["access_token"], DIAGNOSTICS).await;
    assert_eq!(verified.status(), StatusCode::OK);
    assert_eq!(
        verified.headers()["x-countersign-auth-method"],
        "oauth_code"
    );
}

#[tokio::test]
async fn consent_is_asked_once_and_withdrawing_it_ends_every_token_at_once() {
    let app = countersign_test_support::spawn_app().await;
    let client = code_client(&app, true).await;
    let browser = Browser::new(&app, None);
    let code = accepted_code(&app, &client, &browser).await;
    let body = tokens(redeem_code(&app, &client, &code).await).await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    // Signed in and consented: straight back with a code, no page.
    let again = browser.get(&authorization_uri(&app, &client, "")).await;
    let html = again.body().await;
    let next = html
        .split("id=\"continue\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let straight = browser.get(&next).await;
    assert_eq!(straight.status(), StatusCode::FOUND);
    assert!(parameters(straight.headers()[LOCATION].to_str().unwrap(), false).contains_key("code"));
    // prompt=login asks for the password again, session or not.
    let forced = browser.get(&next.replacen('?', "?prompt=login&", 1)).await;
    assert_eq!(forced.status(), StatusCode::SEE_OTHER);
    let sign_in = forced.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(sign_in.contains("prompt=login"), "{sign_in}");
    let page = browser.get(&sign_in).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.body().await.contains("data-page=\"sign-in\""));
    // The user lists and withdraws the consent through the admin API.
    let token = app.login(&client.email, PASSWORD).await.unwrap();
    let mine: Value = app
        .get_as(&token, "/admin/v1/me/consents")
        .await
        .value()
        .await;
    assert_eq!(
        mine["items"][0]["integrator_key_id"],
        client.key_id.as_str()
    );
    assert_eq!(mine["items"][0]["scopes"], json!(["signature"]));
    assert_eq!(mine["items"][0]["granted_by"], "user");
    assert_eq!(
        verify(&app, &access, DIAGNOSTICS).await.status(),
        StatusCode::OK
    );
    let withdrawn = app
        .delete(&format!("/admin/v1/me/consents/{}", client.key_id))
        .bearer_auth(&token)
        .call()
        .await;
    assert_eq!(withdrawn.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        verify(&app, &access, DIAGNOSTICS).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (_, error) =
        error_of(redeem_refresh(&app, &client, body["refresh_token"].as_str().unwrap()).await)
            .await;
    assert_eq!(error, "invalid_grant");
    let again = app
        .delete(&format!("/admin/v1/me/consents/{}", client.key_id))
        .bearer_auth(&token)
        .call()
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    // The consent page comes back.
    let location = browser
        .authorize(
            &authorization_uri(&app, &client, ""),
            &client.email,
            "accept",
        )
        .await;
    assert!(parameters(&location, false).contains_key("code"));
}

#[tokio::test]
async fn the_consent_form_without_its_csrf_token_changes_nothing() {
    let app = countersign_test_support::spawn_app().await;
    let client = code_client(&app, true).await;
    let browser = Browser::new(&app, None);
    browser
        .authorize(&authorization_uri(&app, &client, ""), &client.email, "deny")
        .await;
    let forged = browser
        .post(
            "/console/oauth/authorize",
            &[
                ("response_type", "code"),
                ("scope", "signature"),
                ("client_id", &client.key),
                ("redirect_uri", REDIRECT_URI),
                ("decision", "accept"),
            ],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.headers().get(LOCATION).is_none());
    let token = app.login(&client.email, PASSWORD).await.unwrap();
    let mine: Value = app
        .get_as(&token, "/admin/v1/me/consents")
        .await
        .value()
        .await;
    assert_eq!(mine["items"], json!([]), "no consent was recorded");
}

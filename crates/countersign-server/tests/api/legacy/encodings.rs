//! What the header carries: markup in passwords, XML attacks, equal argon2 work for unknown users,
//! and Latin-1 bytes.

use super::*;

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
                .get("/v1/verify")
                .header("X-DocuSign-Authentication", raw_header(&bytes))
                .call()
                .await;
            assert_eq!(verified.status(), StatusCode::OK, "{format:?} {encoding}");
            assert_eq!(header_value(&verified, "x-countersign-user-id"), user);
            assert_eq!(
                header_value(&verified, "x-countersign-auth-method"),
                "legacy_header"
            );
            let login = w
                .app
                .get("/restapi/v2.1/login_information")
                .header("X-DocuSign-Authentication", raw_header(&bytes))
                .call()
                .await;
            assert_eq!(login.status(), StatusCode::OK, "{format:?} {encoding}");
            let body: Value = login.value().await;
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
            .get("/v1/verify")
            .header("X-DocuSign-Authentication", raw_header(&latin1(&header)))
            .call()
            .await;
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
        .get("/v1/verify")
        .header("X-DocuSign-Authentication", raw_header(&latin1(&header)))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_value(&response, "x-countersign-user-id"), w.sobo);
    assert_eq!(header_value(&response, "x-countersign-actor"), user);
    assert_eq!(
        header_value(&response, "x-countersign-auth-method"),
        "legacy_header_sobo"
    );
}

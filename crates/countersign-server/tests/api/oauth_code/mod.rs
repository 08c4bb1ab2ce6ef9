//! The OAuth 2.0 Authorization Code Grant (SPEC §12) over real HTTP, driven as a browser
//! without JavaScript would: `/oauth/auth`, the console's sign-in, the consent page, the answer
//! at the redirect URI; then `/oauth/token` with a client secret or PKCE, refresh with
//! rotation, reuse of a code or a refresh token ending the whole family, the implicit grant
//! where allowed, and the user withdrawing consent.

use crate::oauth_jwt::verify;
use countersign_test_support::TestApp;
use countersign_test_support::{Call as _, Read as _};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub const REDIRECT_URI: &str = "https://app.example.com/callback";
pub const PASSWORD: &str = "a long consent password";

/// A cookie-keeping HTTP client that follows no redirect.
pub struct Browser {
    client: reqwest::Client,
    base: String,
    jar: Mutex<BTreeMap<String, String>>,
}

fn attribute(html: &str, marker: &str, name: &str) -> Option<String> {
    let start = html.find(marker)?;
    let tag_start = html[..start].rfind('<')?;
    let rest = &html[tag_start..];
    let tag = &rest[..rest.find('>')?];
    let needle = format!("{name}=\"");
    let value_start = tag.find(&needle)? + needle.len();
    let value_end = tag[value_start..].find('"')? + value_start;
    Some(
        tag[value_start..value_end]
            .replace("&amp;", "&")
            .replace("&quot;", "\""),
    )
}

/// The value of the input named `name`.
pub fn input(html: &str, name: &str) -> Option<String> {
    attribute(html, &format!("name=\"{name}\""), "value")
}

/// The query parameters of a URL (or its fragment).
pub fn parameters(url: &str, fragment: bool) -> BTreeMap<String, String> {
    let parsed = url::Url::parse(url).unwrap();
    let text = if fragment {
        parsed.fragment().unwrap_or("")
    } else {
        parsed.query().unwrap_or("")
    };
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

impl Browser {
    pub fn new(app: &TestApp, trust_pem: Option<&str>) -> Self {
        let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = trust_pem {
            builder = builder
                .use_rustls_tls()
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
        }
        Self {
            client: builder.build().unwrap(),
            base: app.base.clone(),
            jar: Mutex::new(BTreeMap::new()),
        }
    }

    fn absolute(&self, target: &str) -> String {
        if target.starts_with("http") {
            target.to_owned()
        } else {
            format!("{}{target}", self.base)
        }
    }

    fn cookies(&self) -> String {
        let jar = self.jar.lock().unwrap();
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&self, response: &Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            let mut jar = self.jar.lock().unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub async fn get(&self, target: &str) -> Response {
        let response = self
            .client
            .get(self.absolute(target))
            .header(COOKIE, self.cookies())
            .call()
            .await;
        self.keep(&response);
        response
    }

    pub async fn post(&self, target: &str, form: &[(&str, &str)]) -> Response {
        let response = self
            .client
            .post(self.absolute(target))
            .header(COOKIE, self.cookies())
            .form(form)
            .call()
            .await;
        self.keep(&response);
        response
    }

    /// Follows a page that moves on by itself (`#continue`).
    async fn follow_continue(&self, response: Response) -> Response {
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.body().await;
        let next = attribute(&html, "id=\"continue\"", "href").expect("a continue link");
        self.get(&next).await
    }

    /// Runs an authorization from its URI up to the answer at the client: signs in when asked
    /// (as `email`), and on the consent page chooses `decision` (`accept` or `deny`). Returns
    /// the `Location` the browser is sent to.
    pub async fn authorize(&self, uri: &str, email: &str, decision: &str) -> String {
        let mut response = self.follow_continue(self.get(uri).await).await;
        if response.status() == StatusCode::SEE_OTHER {
            let sign_in = response.headers()[LOCATION].to_str().unwrap().to_owned();
            assert!(sign_in.starts_with("/console/sign-in?"), "{sign_in}");
            let html = self.get(&sign_in).await.body().await;
            let csrf = input(&html, "csrf_token").unwrap();
            let back = input(&html, "return").expect("the sign-in form carries the return path");
            let signed_in = self
                .post(
                    "/console/sign-in",
                    &[
                        ("csrf_token", &csrf),
                        ("email", email),
                        ("password", PASSWORD),
                        ("return", &back),
                    ],
                )
                .await;
            response = self.follow_continue(signed_in).await;
        }
        if response.status() == StatusCode::FOUND {
            return response.headers()[LOCATION].to_str().unwrap().to_owned();
        }
        assert_eq!(response.status(), StatusCode::OK, "the consent page");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let html = response.body().await;
        assert!(html.contains("data-page=\"oauth-consent\""), "{html}");
        let redirect_uri = input(&html, "redirect_uri").unwrap();
        let origin = url::Url::parse(&redirect_uri)
            .unwrap()
            .origin()
            .ascii_serialization();
        assert!(
            csp.contains(&format!("form-action 'self' {origin}")),
            "{csp}"
        );
        let mut fields: Vec<(String, String)> = [
            "csrf_token",
            "response_type",
            "scope",
            "client_id",
            "redirect_uri",
            "state",
            "code_challenge",
            "code_challenge_method",
        ]
        .into_iter()
        .filter_map(|name| input(&html, name).map(|value| (name.to_owned(), value)))
        .collect();
        fields.push(("decision".into(), decision.into()));
        let form: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let answer = self.post("/console/oauth/authorize", &form).await;
        assert_eq!(answer.status(), StatusCode::FOUND);
        answer.headers()[LOCATION].to_str().unwrap().to_owned()
    }
}

/// An integration for the code grant: a key with a redirect URI (and a secret unless public),
/// a user with a password and an account.
pub struct CodeClient {
    pub key: String,
    pub key_id: String,
    pub secret: Option<String>,
    pub user_id: String,
    pub email: String,
}

pub async fn code_client(app: &TestApp, confidential: bool) -> CodeClient {
    let created = app.create_integrator_key("Web app", None).await;
    let key_id = created.id.clone();
    let patched = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/integrator-keys/{key_id}"),
        )
        .json(&json!({"redirect_uris": [REDIRECT_URI, "http://127.0.0.1:9/cb"]}))
        .call()
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let patched: Value = patched.value().await;
    assert_eq!(patched["redirect_uris"][0], REDIRECT_URI);
    let secret = if confidential {
        let response = app
            .admin_post(
                &format!("/admin/v1/integrator-keys/{key_id}/secrets"),
                json!({}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.value().await;
        Some(body["secret"].as_str().unwrap().to_owned())
    } else {
        None
    };
    let email = "consenting@example.com".to_owned();
    let user_id = app.create_sender(&email, Some(PASSWORD)).await;
    CodeClient {
        key: created.key.clone(),
        key_id,
        secret,
        user_id,
        email,
    }
}

pub fn authorization_uri(app: &TestApp, client: &CodeClient, extra: &str) -> String {
    format!(
        "{}/oauth/auth?response_type=code&scope=signature&client_id={}&redirect_uri={}&state=st%20ate{extra}",
        app.base,
        client.key,
        url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect::<String>()
    )
}

async fn redeem(app: &TestApp, client: &CodeClient, form: &[(&str, &str)]) -> Response {
    let mut request = app.post("/oauth/token").form(form);
    if let Some(secret) = &client.secret {
        request = request.basic_auth(&client.key, Some(secret));
    }
    request.call().await
}

/// The user accepts in `browser`; the authorization code the client receives.
async fn accepted_code(app: &TestApp, client: &CodeClient, browser: &Browser) -> String {
    let uri = authorization_uri(app, client, "");
    let location = browser.authorize(&uri, &client.email, "accept").await;
    parameters(&location, false)["code"].clone()
}

/// Redeems `code` without a `redirect_uri`.
async fn redeem_code(app: &TestApp, client: &CodeClient, code: &str) -> Response {
    redeem(
        app,
        client,
        &[("grant_type", "authorization_code"), ("code", code)],
    )
    .await
}

/// Redeems a refresh token.
async fn redeem_refresh(app: &TestApp, client: &CodeClient, refresh_token: &str) -> Response {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    redeem(app, client, &form).await
}

async fn tokens(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    let mut fields: Vec<&String> = body.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        ["access_token", "expires_in", "refresh_token", "token_type"],
        "{body}"
    );
    assert_eq!(body["expires_in"], 28800);
    assert_eq!(body["token_type"], "Bearer");
    body
}

async fn error_of(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.value().await;
    (status, body["error"].as_str().unwrap().to_owned())
}

const DIAGNOSTICS: &str = "/restapi/v2.1/diagnostics";

#[tokio::test]
async fn a_confidential_client_signs_the_user_in_asks_consent_and_redeems_the_code_once() {
    let app = countersign_test_support::spawn_app().await;
    let client = code_client(&app, true).await;
    let browser = Browser::new(&app, None);
    let location = browser
        .authorize(
            &authorization_uri(&app, &client, ""),
            &client.email,
            "accept",
        )
        .await;
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let answer = parameters(&location, false);
    assert_eq!(answer["state"], "st ate");
    let code = answer["code"].clone();
    let body = tokens(redeem_code(&app, &client, &code).await).await;
    let access = body["access_token"].as_str().unwrap();
    let verified = verify(&app, access, DIAGNOSTICS).await;
    assert_eq!(verified.status(), StatusCode::OK);
    assert_eq!(
        verified.headers()["x-countersign-auth-method"],
        "oauth_code"
    );
    assert_eq!(
        verified.headers()["x-countersign-user-id"],
        client.user_id.as_str()
    );
    // The code again: refused, and the tokens it gave end with it.
    let (status, error) = error_of(redeem_code(&app, &client, &code).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(
        verify(&app, access, DIAGNOSTICS).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let refresh = body["refresh_token"].as_str().unwrap();
    let (_, error) = error_of(redeem_refresh(&app, &client, refresh).await).await;
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_used_one_ends_the_family() {
    let app = countersign_test_support::spawn_app().await;
    let client = code_client(&app, true).await;
    let browser = Browser::new(&app, None);
    let code = accepted_code(&app, &client, &browser).await;
    let first = tokens(redeem_code(&app, &client, &code).await).await;
    let first_refresh = first["refresh_token"].as_str().unwrap();
    let second = tokens(redeem_refresh(&app, &client, first_refresh).await).await;
    let second_access = second["access_token"].as_str().unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(
        verify(&app, second_access, DIAGNOSTICS).await.status(),
        StatusCode::OK
    );
    // The first refresh token again: refused, and the whole family ends.
    let (status, error) = error_of(redeem_refresh(&app, &client, first_refresh).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(
        verify(&app, second_access, DIAGNOSTICS).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        verify(&app, first["access_token"].as_str().unwrap(), DIAGNOSTICS)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let second_refresh = second["refresh_token"].as_str().unwrap();
    let (_, error) = error_of(redeem_refresh(&app, &client, second_refresh).await).await;
    assert_eq!(error, "invalid_grant");
    let audited = app
        .eventually(std::time::Duration::from_secs(10), || async {
            let audit: Value = app
                .admin_get("/admin/v1/audit?action=oauth.family_revoke")
                .await
                .value()
                .await;
            !audit["items"].as_array().unwrap().is_empty()
        })
        .await;
    assert!(audited, "the family's end is audited");
    // An expired refresh token is refused too.
    let code = accepted_code(&app, &client, &browser).await;
    let fresh = tokens(redeem_code(&app, &client, &code).await).await;
    app.advance(time::Duration::days(30));
    let (_, error) =
        error_of(redeem_refresh(&app, &client, fresh["refresh_token"].as_str().unwrap()).await)
            .await;
    assert_eq!(error, "invalid_grant");
}

mod client_auth;
mod pages;

//! Sign-in, the session cookie's attributes, sign-out, session expiry, the CSRF check on every
//! form, the 403 page for users who are not organization administrators, and the security
//! headers of every console response.

use crate::support::{ConsoleClient, api_user, api_users, csrf_token, date_in, location};
use countersign_test_support::CreatedApiUser;
use countersign_test_support::{ADMIN_EMAIL, spawn_app, spawn_app_with};
use countersign_test_support::{Call as _, Read as _};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};

fn session_cookie(console: &ConsoleClient<'_>) -> String {
    console
        .set_cookies
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|c| c.starts_with("countersign_console=") && !c.contains("Max-Age=0"))
        .cloned()
        .expect("a session cookie was set")
}

#[tokio::test]
async fn pages_redirect_to_sign_in_without_a_session() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    for path in [
        "/console",
        "/console/api-users",
        "/console/users",
        "/console/audit",
    ] {
        let response = console.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let target = location(&response);
        assert!(
            target == "/console/sign-in" || target == "/console/api-users",
            "{path} -> {target}"
        );
    }
    let response = console.get("/console/api-users").await;
    assert_eq!(location(&response), "/console/sign-in");
}

#[tokio::test]
async fn sign_in_sets_an_http_only_strict_session_cookie_not_secure_over_http() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let cookie = session_cookie(&console);
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("; Path=/console"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    let page = console.page("/console/api-users").await;
    assert!(page.contains(ADMIN_EMAIL));
    assert!(page.contains("Sign out"));
}

/// A session cookie sent twice with two values (one set by a sibling domain or for another path
/// beside the console's own) is no session: the page asks to sign in rather than pick one. The
/// same value twice is one cookie.
#[tokio::test]
async fn a_session_cookie_sent_twice_is_no_session() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let real = console.cookie("countersign_console").unwrap();
    let other = ConsoleClient::new(&app);
    other.sign_in().await;
    let foreign = other.cookie("countersign_console").unwrap();
    let page = |cookie: String| {
        app.get("/console/api-users")
            .header(reqwest::header::COOKIE, cookie)
            .call()
    };
    // (The test client follows the redirect: where it ends up is the answer.)
    for cookie in [
        format!("countersign_console={real}"),
        format!("countersign_console={real}; countersign_console={real}"),
    ] {
        assert_eq!(page(cookie).await.url().path(), "/console/api-users");
    }
    for cookie in [
        format!("countersign_console={foreign}; countersign_console={real}"),
        format!("countersign_console={real}; countersign_console={foreign}"),
    ] {
        assert_eq!(page(cookie).await.url().path(), "/console/sign-in");
    }
    // A second Cookie line that is not text hides what it holds: no session either.
    let unreadable = app
        .get("/console/api-users")
        .header(
            reqwest::header::COOKIE,
            format!("countersign_console={real}"),
        )
        .header(
            reqwest::header::COOKIE,
            reqwest::header::HeaderValue::from_bytes(b"countersign_console=\xff").unwrap(),
        )
        .call()
        .await;
    assert_eq!(unreadable.url().path(), "/console/sign-in");
}

/// Over TLS the cookies are `Secure` and carry the `__Host-` prefix (so no sibling domain can
/// set one), which browsers accept only with `Path=/`; the plain names are not read there.
#[tokio::test]
async fn session_cookie_is_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(|config| config.public_url = "https://auth.example.com".into()).await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let set_cookie = |name: &str| {
        console
            .set_cookies
            .lock()
            .unwrap()
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")) && !c.contains("Max-Age=0"))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} cookie"))
    };
    for name in [
        "__Host-countersign_console",
        "__Host-countersign_console_sign_in",
    ] {
        let cookie = set_cookie(name);
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(cookie.contains("; HttpOnly"), "{cookie}");
        assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
        assert!(cookie.contains("; Path=/;"), "{cookie}");
        assert!(!cookie.contains("Domain"), "{cookie}");
    }
    assert!(
        console
            .page("/console/api-users")
            .await
            .contains("Sign out")
    );
    let token = console.cookie("__Host-countersign_console").unwrap();
    let plain = app
        .get("/console/api-users")
        .header(
            reqwest::header::COOKIE,
            format!("countersign_console={token}"),
        )
        .call()
        .await;
    assert_eq!(plain.url().path(), "/console/sign-in");
}

#[tokio::test]
async fn wrong_password_is_refused_and_the_form_keeps_the_email() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    let response = console
        .sign_in_as(ADMIN_EMAIL, "not the password at all")
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(console.cookie("countersign_console").is_none());
    let body = response.body().await;
    assert!(body.contains("The email or password is incorrect."));
    assert!(body.contains(&format!("value=\"{ADMIN_EMAIL}\"")));
    assert!(!body.contains("not the password at all"));
}

#[tokio::test]
async fn sign_in_form_without_its_token_is_refused() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    let _ = console.page("/console/sign-in").await;
    let response = console
        .post(
            "/console/sign-in",
            &[
                ("email", ADMIN_EMAIL),
                ("password", countersign_test_support::ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(console.cookie("countersign_console").is_none());
}

/// A form past the console's 64 KiB is refused as too large (413), not as unreadable.
#[tokio::test]
async fn a_form_larger_than_64_kib_is_refused_with_413() {
    let app = spawn_app().await;
    let padding = "x".repeat(65 * 1024);
    let response = app
        .post("/console/sign-in")
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(format!("email=a%40example.com&password={padding}"))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("larger than the console accepts")
    );
}

/// A form field or page query that does not decode is refused with the 400 page, not read with
/// replacement characters; an empty value in a page's filter (as a browser sends an empty
/// field) is no filter.
#[tokio::test]
async fn form_fields_and_queries_that_do_not_decode_are_refused_and_create_nothing() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let token = console.csrf("/console/api-users").await;
    let expires = date_in(&app, 30);
    for username in ["bot%FF", "bot%E2%82", "bot%zz", "bot%00"] {
        let body = format!(
            "csrf_token={token}&username={username}&scope=organization&expires_at={expires}"
        );
        let response = console.post_raw("/console/api-users", &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{username}");
        assert!(response.body().await.contains("could not be read"));
    }
    let doubled =
        format!("csrf_token={token}&&username=bot&scope=organization&expires_at={expires}");
    let response = console.post_raw("/console/api-users", &doubled).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // A field meant once, sent twice, is refused: which value would be meant?
    for repeated in [
        format!(
            "csrf_token={token}&csrf_token={token}&username=bot&scope=organization&expires_at={expires}"
        ),
        format!(
            "csrf_token={token}&username=bot&username=other&scope=organization&expires_at={expires}"
        ),
    ] {
        let response = console.post_raw("/console/api-users", &repeated).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{repeated}");
    }
    assert!(api_users(&app).await.is_empty());
    // The sign-in form too, before any password is checked.
    let response = ConsoleClient::new(&app)
        .post_raw("/console/sign-in", "email=a%FF%40example.com&password=x")
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Page queries.
    for path in ["/console/audit?actor=%FF", "/console/audit?cursor=abc"] {
        let response = console.get(path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    let response = console.get("/console/audit?actor=&action=").await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// A posted form's path ids are read after the session and its CSRF token: a wrong token is
/// 403 whatever the path; with the right one, a segment that does not decode is the 400 page and
/// text that is not an id the 404 page.
#[tokio::test]
async fn path_ids_are_read_after_the_session_and_csrf_check() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let token = console.csrf("/console/users").await;
    for path in [
        "/console/users/%FF/status",
        "/console/users/not-an-id/status",
    ] {
        let forged = console
            .post(path, &[("csrf_token", "0"), ("status", "disabled")])
            .await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let unreadable = console
        .post(
            "/console/users/%FF/status",
            &[("csrf_token", &token), ("status", "disabled")],
        )
        .await;
    assert_eq!(unreadable.status(), StatusCode::BAD_REQUEST);
    assert!(
        unreadable.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let unknown = console
        .post(
            "/console/users/not-an-id/status",
            &[("csrf_token", &token), ("status", "disabled")],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn form_without_csrf_token_is_refused_and_creates_nothing() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let expires = date_in(&app, 30);
    let response = console
        .post(
            "/console/api-users",
            &[
                ("username", "forged-bot"),
                ("scope", "organization"),
                ("expires_at", &expires),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.body().await;
    assert!(body.contains("Nothing was changed"));
    assert!(api_users(&app).await.is_empty());
}

#[tokio::test]
async fn form_with_wrong_csrf_token_is_refused_and_revokes_nothing() {
    let app = spawn_app().await;
    let CreatedApiUser { id, .. } = app
        .create_api_user("keep-me", serde_json::json!({"type": "organization"}))
        .await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let real = console.csrf("/console/api-users").await;
    let wrong = "0".repeat(real.len());
    for token in [wrong.as_str(), "", "short"] {
        let response = console
            .post(
                &format!("/console/api-users/{id}/revoke"),
                &[("csrf_token", token), ("confirm", "yes")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "token {token:?}");
    }
    // Another session's token does not work either.
    let other = ConsoleClient::new(&app);
    other.sign_in().await;
    let foreign = other.csrf("/console/api-users").await;
    assert_ne!(foreign, real);
    let response = console
        .post(
            &format!("/console/api-users/{id}/revoke"),
            &[("csrf_token", &foreign), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(api_user(&app, "keep-me").await.unwrap()["status"], "active");
}

#[tokio::test]
async fn non_organization_admin_gets_a_clear_403_page() {
    let app = spawn_app().await;
    app.create_user("clerk@example.com", Some("clerk password 1"))
        .await;
    let console = ConsoleClient::new(&app);
    let response = console
        .sign_in_as("clerk@example.com", "clerk password 1")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    for path in ["/console/api-users", "/console/users", "/console/audit"] {
        let response = console.get(path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let body = response.body().await;
        assert!(body.contains("You need to administer every environment"));
        assert!(body.contains("clerk@example.com"));
        assert!(body.contains("Sign out"), "the 403 page offers sign-out");
    }
    // Posting is refused the same way, and changes nothing.
    let token = csrf_token(&console.get("/console/users").await.body().await);
    let expires = date_in(&app, 30);
    let response = console
        .post(
            "/console/api-users",
            &[
                ("csrf_token", &token),
                ("username", "clerk-bot"),
                ("scope", "organization"),
                ("expires_at", &expires),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(api_users(&app).await.is_empty());
    // Sign-out works for them.
    let response = console
        .post("/console/sign-out", &[("csrf_token", &token)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_out_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let token = console.cookie("countersign_console").unwrap();
    // The console session is an administrator session: it works as an admin API bearer token.
    let me = app.get_as(&token, "/admin/v1/me").await;
    assert_eq!(me.status(), StatusCode::OK);
    let csrf = console.csrf("/console/api-users").await;
    let response = console
        .post("/console/sign-out", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/sign-in?signed_out=1");
    assert!(
        console.cookie("countersign_console").is_none(),
        "cookie cleared"
    );
    // Replaying the old cookie does not work: the server-side session is gone.
    console.set_cookie("countersign_console", &token);
    let response = console.get("/console/api-users").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/sign-in?ended=1");
    let me = app.get_as(&token, "/admin/v1/me").await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let page = console.page("/console/sign-in?signed_out=1").await;
    assert!(page.contains("You have signed out."));
}

#[tokio::test]
async fn session_expires_after_the_configured_time() {
    let app = spawn_app_with(|config| config.admin_session_minutes = 30).await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    app.advance(time::Duration::minutes(29));
    assert_eq!(
        console.get("/console/api-users").await.status(),
        StatusCode::OK
    );
    app.advance(time::Duration::minutes(2));
    let response = console.get("/console/api-users").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/sign-in?ended=1");
    let page = console.page("/console/sign-in?ended=1").await;
    assert!(page.contains("Your session has ended"));
    // A form posted from a page left open is not applied either.
    let expires = date_in(&app, 30);
    let response = console
        .post(
            "/console/api-users",
            &[
                ("username", "late-bot"),
                ("scope", "organization"),
                ("expires_at", &expires),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(api_users(&app).await.is_empty());
}

#[tokio::test]
async fn pages_carry_security_headers_and_are_not_cached() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    let sign_in = console.get("/console/sign-in").await;
    console.sign_in().await;
    let list = console.get("/console/api-users").await;
    for response in [&sign_in, &list] {
        let headers = response.headers();
        let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers[CACHE_CONTROL], "no-store");
        assert!(
            headers[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    let body = list.body().await;
    assert!(!body.contains("<script>"), "no inline script");
    assert!(!body.contains(" style=\""), "no inline style");
    assert!(body.contains("<script src=\"/console/static/console.js\" defer>"));
    let script = console.get("/console/static/console.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let style = console.get("/console/static/console.css").await;
    assert_eq!(style.status(), StatusCode::OK);
    assert!(
        style.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled_with_a_clear_message() {
    let app = spawn_app_with(|config| config.throttle.name_failures = 3).await;
    let console = ConsoleClient::new(&app);
    let mut last = None;
    for _ in 0..5 {
        let response = console.sign_in_as(ADMIN_EMAIL, "wrong password").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            last = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = last.expect("sign-in is throttled after repeated failures");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let body = response.body().await;
    assert!(body.contains("Too many sign-in attempts right now"));
    assert!(body.contains(&format!("value=\"{ADMIN_EMAIL}\"")));
}

/// The console's sign-in goes through the same bounded password pool as every other password
/// check: while it is full, the page answers 429 with `Retry-After: 1` at once, and the right
/// password works again once a place frees.
#[tokio::test]
async fn console_sign_in_is_refused_at_once_while_the_password_pool_is_full() {
    let app = spawn_app_with(|config| {
        config.password_concurrency = Some(1);
        config.password_queue = Some(0);
    })
    .await;
    let console = ConsoleClient::new(&app);
    let held = app.server().state().passwords.try_reserve().unwrap();
    let response = console
        .sign_in_as(ADMIN_EMAIL, countersign_test_support::ADMIN_PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    let body = response.body().await;
    assert!(body.contains("Too many sign-in attempts right now"));
    drop(held);
    let response = console
        .sign_in_as(ADMIN_EMAIL, countersign_test_support::ADMIN_PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

/// Signs a second organization administrator in to the console; returns its user id.
async fn second_admin_signed_in(console: &ConsoleClient<'_>) -> String {
    let app = console.app;
    let id = app
        .create_user("second@example.com", Some("second-password"))
        .await;
    let response = app
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/v1/environments/{}/admins/{id}", app.environment_id),
        )
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = console
        .sign_in_as("second@example.com", "second-password")
        .await;
    assert_eq!(location(&response), "/console/api-users");
    assert_eq!(
        console.get("/console/api-users").await.status(),
        StatusCode::OK
    );
    id
}

/// Asserts the console cookie no longer opens a page and, as a bearer token, gets 401.
async fn assert_session_ended(console: &ConsoleClient<'_>, token: &str) {
    let response = console.get("/console/api-users").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/sign-in?ended=1");
    let app = console.app;
    let response = app.get_as(token, "/admin/v1/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn console_session_ends_when_its_users_password_changes() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    let id = second_admin_signed_in(&console).await;
    let token = console.cookie("countersign_console").unwrap();
    let response = app
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/v1/users/{id}/password"),
        )
        .json(&serde_json::json!({"password": "a-newer-password"}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_session_ended(&console, &token).await;
}

#[tokio::test]
async fn console_session_ends_when_its_user_is_disabled() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    let id = second_admin_signed_in(&console).await;
    let token = console.cookie("countersign_console").unwrap();
    let response = app
        .admin(reqwest::Method::PATCH, &format!("/admin/v1/users/{id}"))
        .json(&serde_json::json!({"status": "disabled"}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_session_ended(&console, &token).await;
}

#[tokio::test]
async fn console_session_ends_when_its_user_is_deleted() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    let id = second_admin_signed_in(&console).await;
    let token = console.cookie("countersign_console").unwrap();
    let response = app
        .admin(reqwest::Method::DELETE, &format!("/admin/v1/users/{id}"))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_session_ended(&console, &token).await;
}

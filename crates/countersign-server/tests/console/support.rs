//! Helpers of the console suite: a plain-HTTP console client with its own cookie jar (so tests
//! see every `Set-Cookie` attribute), HTML scraping of form tokens, and a headless Chromium
//! driven through a chromedriver started on a free port.

use countersign_core::ids::OrganizationId;
use countersign_test_support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use countersign_test_support::{Call as _, Read as _};
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// A console user agent over plain HTTP: no redirects followed, cookies kept by name.
pub struct ConsoleClient<'a> {
    pub app: &'a TestApp,
    client: reqwest::Client,
    jar: Mutex<BTreeMap<String, String>>,
    /// The raw `Set-Cookie` values seen, in order.
    pub set_cookies: Mutex<Vec<String>>,
}

impl<'a> ConsoleClient<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: Mutex::new(BTreeMap::new()),
            set_cookies: Mutex::new(Vec::new()),
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn record(&self, response: &Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap().to_owned();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let removed = text.contains("Max-Age=0");
            let mut jar = self.jar.lock().unwrap();
            if removed || value.is_empty() {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
            self.set_cookies.lock().unwrap().push(text);
        }
    }

    /// The value of a cookie in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    /// Replaces the jar's value of a cookie (to replay an old one).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    pub async fn get(&self, path: &str) -> Response {
        let response = self
            .client
            .get(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .call()
            .await;
        self.record(&response);
        response
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let response = self
            .client
            .post(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .call()
            .await;
        self.record(&response);
        response
    }

    /// Posts `body` as a urlencoded form, as written (to send what a browser never would).
    pub async fn post_raw(&self, path: &str, body: &str) -> Response {
        let response = self
            .client
            .post(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.to_owned())
            .call()
            .await;
        self.record(&response);
        response
    }

    /// Gets a page and returns its body, asserting 200.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.body().await
    }

    /// The CSRF token of the forms on a page.
    pub async fn csrf(&self, path: &str) -> String {
        csrf_token(&self.page(path).await)
    }

    /// Signs in through the form; returns the answer to the POST.
    pub async fn sign_in_as(&self, email: &str, password: &str) -> Response {
        let token = csrf_token(&self.page("/console/sign-in").await);
        self.post(
            "/console/sign-in",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    /// Signs in as the bootstrap administrator, asserting success.
    pub async fn sign_in(&self) {
        let response = self.sign_in_as(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/console/api-users");
    }
}

/// The `Location` of a redirect.
pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The value of the first hidden `csrf_token` field of a page.
pub fn csrf_token(html: &str) -> String {
    input_value(html, "csrf_token").expect("a csrf_token field")
}

/// The `value` of the first input named `name` (attributes as the console renders them).
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let start = html.find(&marker)?;
    let rest = &html[start..];
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let value_start = tag.find("value=\"")? + 7;
    let value_end = tag[value_start..].find('"')? + value_start;
    Some(tag[value_start..value_end].to_owned())
}

/// The `value` of the element with id `id`.
pub fn value_of_id(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let start = html.find(&marker)?;
    let tag_start = html[..start].rfind('<')?;
    let rest = &html[tag_start..];
    let tag = &rest[..rest.find('>')?];
    let value_start = tag.find("value=\"")? + 7;
    let value_end = tag[value_start..].find('"')? + value_start;
    Some(tag[value_start..value_end].to_owned())
}

/// The API users of the bootstrap organization, inactive ones included, from the store (so it
/// works however far a test moved the clock).
pub async fn api_users(app: &TestApp) -> Vec<Value> {
    let organization = OrganizationId::parse(&app.organization_id).unwrap();
    let page = app
        .store
        .list_api_users(organization, true, app.now(), None, 1000)
        .await
        .unwrap();
    page.items
        .into_iter()
        .map(|api_user| {
            json!({
                "id": api_user.id.to_string(),
                "username": api_user.username,
                "status": api_user.status(app.now()).as_str(),
                "expires_at": api_user.expires_at.format(&time::format_description::well_known::Rfc3339).unwrap(),
                "created_by": api_user.created_by,
            })
        })
        .collect()
}

/// The API user named `username`, from the admin API.
pub async fn api_user(app: &TestApp, username: &str) -> Option<Value> {
    api_users(app)
        .await
        .into_iter()
        .find(|u| u["username"] == username)
}

/// A date `days` from the server's today, as `<input type=date>` sends it.
pub fn date_in(app: &TestApp, days: i64) -> String {
    let date = (app.now() + time::Duration::days(days)).date();
    date.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Headless Chromium

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Browser tests run one at a time: two Chromiums on a 2-core machine only slow each other.
static BROWSER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A chromedriver process, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless Chromium session.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` when either is not installed (a
    /// SKIPPED line; a failure in CI).
    pub async fn start(test: &str) -> Option<Self> {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            if !std::path::Path::new(binary).exists() {
                countersign_test_support::skip::skip(&format!(
                    "{test} needs {binary} (apt-get install chromium chromium-driver)"
                ));
                return None;
            }
        }
        let turn = BROWSER_LOCK.lock().await;
        let profile = tempfile::tempdir().unwrap();
        let port = free_port();
        let driver = Driver(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg("--log-level=OFF")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let base = format!("http://127.0.0.1:{port}");
        let probe = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ready = probe
                .get(format!("{base}/status"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not start within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-quic",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&base)
            .await
            .unwrap();
        client.set_window_size(1280, 900).await.unwrap();
        Some(Self {
            client,
            _driver: driver,
            _profile: profile,
            _turn: turn,
        })
    }

    /// Ends the browser session (the driver is killed on drop).
    pub async fn close(self) {
        let Self {
            client,
            _driver,
            _profile,
            _turn,
        } = self;
        let _ = client.close().await;
    }

    /// Waits until a page with `data-page=page` is shown; returns nothing, panics on time-out.
    pub async fn wait_for_page(&self, page: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(&format!("body[data-page=\"{page}\"]")))
            .await
            .unwrap_or_else(|e| panic!("page {page} did not appear: {e}"));
    }

    /// Waits until the current URL contains `part`.
    pub async fn wait_for_url(&self, part: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let url = self.client.current_url().await.unwrap();
            if url.as_str().contains(part) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "URL never contained {part}; it is {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Goes to `path` of `app` and waits for the page `page`.
    pub async fn open(&self, app: &TestApp, path: &str, page: &str) {
        self.client.goto(&app.url(path)).await.unwrap();
        self.wait_for_page(page).await;
    }

    /// Follows the navigation link to `href` and waits for the page `page`.
    pub async fn navigate(&self, href: &str, page: &str) {
        self.click(&format!("nav a[href=\"{href}\"]")).await;
        self.wait_for_page(page).await;
    }

    /// Fills and submits the sign-in form on the page shown.
    pub async fn submit_sign_in(&self, email: &str, password: &str) {
        self.fill("email", email).await;
        self.fill("password", password).await;
        self.click("form[action=\"/console/sign-in\"] button[type=submit]")
            .await;
    }

    /// Signs in through the console's form as `email`.
    pub async fn sign_in(&self, app: &TestApp, email: &str, password: &str) {
        self.open(app, "/console", "sign-in").await;
        self.submit_sign_in(email, password).await;
    }

    /// The accessibility and layout checks of a page, then its screenshot.
    pub async fn check_page(&self, what: &str, screenshot: &str) {
        self.assert_inputs_labelled(what).await;
        self.assert_fits_width(what).await;
        self.screenshot(screenshot).await;
    }

    /// Waits until an element's text satisfies `check`.
    pub async fn wait_for_text(&self, css: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && check(&text)
            {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "text of {css} never matched"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the element `locator` finds; panics when there is none.
    pub async fn text(&self, locator: Locator<'_>) -> String {
        let element = self.client.find(locator).await.unwrap();
        element.text().await.unwrap()
    }

    /// Types into the element with id `id`.
    pub async fn fill(&self, id: &str, text: &str) {
        let element = self
            .client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no #{id}: {e}"));
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    /// Clicks the element matched by `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Saves a screenshot as `name` (see [`screenshot_dir`]) and checks it is a PNG.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }

    /// Asserts every visible form control has a visible `<label for>` (or, for buttons, text).
    pub async fn assert_inputs_labelled(&self, what: &str) {
        let unlabelled = self
            .client
            .execute(
                "const missing = [];
                 for (const control of document.querySelectorAll('input, select, textarea')) {
                   if (control.type === 'hidden' || control.getClientRects().length === 0) continue;
                   const label = control.id && document.querySelector(`label[for=\"${control.id}\"]`);
                   if (!label || label.offsetParent === null || !label.textContent.trim()) {
                     missing.push(control.name || control.id || control.outerHTML);
                   }
                 }
                 return missing;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            unlabelled.as_array().unwrap().len(),
            0,
            "{what}: controls without a visible label: {unlabelled}"
        );
    }

    /// Asserts the page has no horizontal overflow at the current window width.
    pub async fn assert_fits_width(&self, what: &str) {
        let sizes = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        let scroll = sizes[0].as_u64().unwrap();
        let client = sizes[1].as_u64().unwrap();
        assert!(
            scroll <= client,
            "{what} overflows horizontally: content {scroll}px wide in a {client}px viewport"
        );
    }
}

/// Where screenshots go: `docs/screenshots/` when `COUNTERSIGN_UPDATE_SCREENSHOTS` is set (to
/// refresh the README's pictures), otherwise the target directory, so a test run leaves the
/// work tree clean.
pub fn screenshot_dir() -> std::path::PathBuf {
    if std::env::var_os("COUNTERSIGN_UPDATE_SCREENSHOTS").is_some() {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
    } else {
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots")
    }
}

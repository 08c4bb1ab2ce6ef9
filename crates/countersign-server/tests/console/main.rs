//! Console suite: the administrator console at `/console`, over plain HTTP (cookies, CSRF,
//! sessions, forms and pages) and end to end in headless Chromium driven through chromedriver.
//! Every test starts the real server on 127.0.0.1:0 with a fresh database.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod api_users;
mod browser;
mod browser_credentials;
mod credentials;
mod directory;
mod oauth;
mod session;
mod support;

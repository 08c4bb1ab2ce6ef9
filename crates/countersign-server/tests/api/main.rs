//! API suite: every test starts the real server on 127.0.0.1:0 with a fresh database and
//! speaks HTTP to it. Files mirror the routes.
//!
//! Where a test goes: `token_exchange` and `discovery` (the AssureSign dialect), `legacy` and
//! `legacy_sdk` (the DocuSign header, and real DocuSign SDKs), `verify`, `fast_path` and
//! `fail_closed` (forward auth: the rules, the per-thread cache, and inputs that must refuse),
//! `introspection`, `admin`, `api_users`, `names` and `me` (the admin API and what was done in
//! a user's name), `legacy_migration` and `legacy_jwt_migration` (SPEC §11), `oauth_jwt`,
//! `oauth_code` and `oauth_sdk` (the OAuth 2.0 grants of SPEC §12, and the DocuSign SDKs on
//! them), `lifecycle`, `webhooks` and `leaks` (SPEC §13–14), `receipts` (revocation receipts
//! across nodes), `throttle`, `passwords`, `connections` and `bad_input` (abuse and bad input),
//! `tls`, `operations` (health, metrics, shutdown). The other suites of this crate: `console`
//! (pages over HTTP and in headless Chromium), `matrix` (every combination against an oracle),
//! `nginx` and `caddy` (real proxies, sharing `proxy_support.rs`). Multi-process and CLI tests
//! live in `countersign-cli/tests`.
//!
//! Helpers come from `countersign-test-support`: `spawn_app()` and its typed results
//! (`CreatedApiUser`, `CreatedAccount`), the manual clock (`app.advance`), and `eventually`
//! for what happens in the background (never a bare sleep). A `TestApp` that ends checks that
//! its server lost no audit event. With `COUNTERSIGN_TEST_POSTGRES_URL` set the same tests run
//! on PostgreSQL (the multi-node tests under `on_postgresql::` in `countersign-cli/tests` run
//! only there).
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod admin;
mod api_users;
mod bad_input;
mod connections;
mod discovery;
mod fail_closed;
mod fast_path;
mod introspection;
mod leaks;
mod legacy;
mod legacy_jwt_migration;
mod legacy_migration;
mod legacy_sdk;
mod lifecycle;
mod me;
mod names;
mod oauth_code;
mod oauth_jwt;
mod oauth_sdk;
mod operations;
mod passwords;
mod receipts;
mod throttle;
mod tls;
mod token_exchange;
mod verify;
mod webhooks;

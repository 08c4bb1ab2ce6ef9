//! API suite: every test starts the real server on 127.0.0.1:0 with a fresh database and
//! speaks HTTP to it. Files mirror the routes.
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
mod legacy_migration;
mod legacy_sdk;
mod me;
mod names;
mod operations;
mod passwords;
mod receipts;
mod throttle;
mod tls;
mod token_exchange;
mod verify;

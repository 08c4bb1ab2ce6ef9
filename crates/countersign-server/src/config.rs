//! Server configuration: every tunable of the HTTP surface, with documented defaults.

use serde::{Deserialize, Serialize};

/// Configuration of the HTTP server and its authentication rules.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Base URL clients reach this server at; used in DocuSign `baseUrl` and sunset links.
    pub public_url: String,
    /// Default session length of `/authentication/apiUser` in minutes.
    pub session_default_minutes: i64,
    /// Longest session `/authentication/apiUser` grants, in minutes.
    pub session_max_minutes: i64,
    /// Longest lifetime of an API user at creation, in days.
    pub api_user_max_lifetime_days: i64,
    /// How long an administrator session (admin API token or console cookie) lasts, in minutes.
    pub admin_session_minutes: i64,
    /// Largest body accepted on authentication endpoints, in bytes.
    pub auth_body_limit: usize,
    /// Largest body accepted on the admin API, in bytes.
    pub admin_body_limit: usize,
    /// Entries per directory cache (API users, users, memberships, integrator keys).
    pub cache_capacity: u64,
    /// Verified identities each worker thread keeps in its own front cache of the forward-auth
    /// fast path (0 turns it off); a full cache is emptied and refilled.
    pub thread_cache_capacity: usize,
    /// How often each node re-checks the directory version, in milliseconds (the safety net
    /// behind PostgreSQL NOTIFY, and how SQLite sees changes made by the CLI).
    pub directory_recheck_millis: u64,
    /// How often legacy-header usage counters are flushed to the database, in milliseconds
    /// (at most 5000).
    pub usage_flush_millis: u64,
    /// Whether legacy-header usage is recorded (source IPs and user agents included); on by
    /// default, off for installations that must not keep them.
    pub legacy_usage_enabled: bool,
    /// Whether `X-Forwarded-For` / `X-Real-IP` are trusted for the client address (behind a proxy).
    pub trust_forwarded_for: bool,
    /// argon2id parameters for new password hashes.
    pub password_hashing: PasswordHashing,
    /// Password verifications (argon2id) that run at once (SPEC §9); unset (the default): the
    /// number of cores (`std::thread::available_parallelism`), read at start.
    pub password_concurrency: Option<usize>,
    /// Password verifications that may wait for a turn beyond those running; default: four
    /// times `password_concurrency`. A request that finds the queue full is refused at once
    /// with the throttle answer (429, 403 on forward auth, `Retry-After: 1`).
    pub password_queue: Option<usize>,
    /// Seconds a connection has to deliver a request's headers, from its first byte (or from
    /// its accept); a slower one is closed (SPEC §9). A request's body must arrive within as
    /// long again, from the first time it is waited for. Fractions allowed.
    pub header_read_timeout: f64,
    /// Seconds a connection may stay idle between requests before it is closed. Fractions
    /// allowed.
    pub keep_alive_timeout: f64,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Throttling of repeated authentication failures.
    pub throttle: crate::throttle::ThrottleConfig,
    /// How forward auth reads the proxy's headers.
    pub forward_auth: ForwardAuthConfig,
    /// Seconds between two rounds of the credential lifecycle checks (expiry warnings,
    /// expiries, unused-credential revocation, silent rotations, sunsets); one node at a time
    /// runs them, under a lease in the database. Fractions allowed.
    pub lifecycle_check_seconds: f64,
    /// Webhook deliveries.
    pub webhooks: WebhookConfig,
    /// DocuSign OAuth 2.0 (SPEC §12).
    pub oauth: OAuthConfig,
    /// Whether TLS is served directly (set by `start` from its TLS files; not a configuration
    /// key): console cookies are then `Secure`.
    /// Secret-scanning leak reports (SPEC §14).
    pub leak_report: LeakReportConfig,
    #[serde(skip)]
    pub serves_tls: bool,
}

/// `[server.forward_auth]`: which proxy header carries the original URI.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardAuthConfig {
    /// The one original-URI header to trust (`X-Original-URI`, `X-Forwarded-Uri` or
    /// `X-Envoy-Original-Path`; any other name stops the start); the others are then ignored,
    /// and a forward-auth request without it is refused. Unset (the default): all three are
    /// read, and a request where they disagree is refused, because a proxy overwrites only its
    /// own header and forwards a client's copy of the others.
    pub uri_header: Option<String>,
}

/// `[server.webhooks]`: where webhooks may be delivered, and how failures are retried.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Accept `http://` webhook URLs (otherwise only `https://`).
    pub allow_http: bool,
    /// Deliver to loopback, private, link-local, unique-local and unspecified addresses
    /// (refused by default, at creation and on the resolved address at each delivery).
    pub allow_private: bool,
    /// Seconds before the first retry of a failed delivery; each later retry waits twice as
    /// long as the one before (8 attempts in all). Fractions allowed.
    pub retry_base_seconds: f64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private: false,
            retry_base_seconds: 30.0,
        }
    }
}

impl ForwardAuthConfig {
    /// The original-URI headers countersign reads: as documented, and as a header name.
    const HEADERS: [(&'static str, &'static str); 3] = [
        ("X-Original-URI", "x-original-uri"),
        ("X-Forwarded-Uri", "x-forwarded-uri"),
        ("X-Envoy-Original-Path", "x-envoy-original-path"),
    ];

    /// The trusted header's name, when one is configured.
    ///
    /// # Errors
    /// A name other than the three original-URI headers countersign reads is refused: trusting a
    /// header no proxy sets would leave every request without an original URI to check.
    pub fn trusted_header(&self) -> Result<Option<axum::http::HeaderName>, UriHeaderError> {
        let Some(name) = self.uri_header.as_deref() else {
            return Ok(None);
        };
        Self::HEADERS
            .iter()
            .find(|(documented, _)| documented.eq_ignore_ascii_case(name.trim()))
            .map(|(_, lower)| Some(axum::http::HeaderName::from_static(lower)))
            .ok_or_else(|| UriHeaderError(name.to_owned()))
    }
}

/// `[server.forward_auth] uri_header` names a header countersign does not read.
#[derive(Debug, thiserror::Error)]
#[error(
    "[server.forward_auth] uri_header = {0:?} is not one of X-Original-URI, X-Forwarded-Uri, X-Envoy-Original-Path"
)]
pub struct UriHeaderError(pub String);

/// Secret-scanning leak reports at `POST /v1/credentials/leaked` (SPEC §14).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeakReportConfig {
    /// GitHub's public-keys JSON (`{"public_keys": [{"key_identifier", "key", "is_current"}]}`,
    /// ECDSA P-256 PEM keys). When set, every report must be signed with one of them; unset,
    /// reports are accepted unsigned.
    pub public_keys_file: Option<std::path::PathBuf>,
}

/// `[server.oauth]`: the DocuSign OAuth 2.0 surface.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// OAuth host names accepted as a JWT Grant assertion's `aud`, beyond the host[:port] of
    /// `public_url` (which is always accepted): other names the server is reached by.
    pub audiences: Vec<String>,
}

impl ServerConfig {
    /// The OAuth host name: host[:port] of `public_url`, as the DocuSign SDKs send it in `aud`
    /// and prefix with `https://`.
    pub fn oauth_host(&self) -> String {
        let url = self.public_url.trim();
        let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        without_scheme
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    }

    /// Every audience a JWT Grant assertion may name: the OAuth host name and `oauth.audiences`.
    pub fn oauth_audiences(&self) -> Vec<String> {
        let mut audiences = vec![self.oauth_host()];
        audiences.extend(
            self.oauth
                .audiences
                .iter()
                .map(|a| a.trim().to_ascii_lowercase())
                .filter(|a| !a.is_empty()),
        );
        audiences
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            session_default_minutes: 60,
            session_max_minutes: 1440,
            api_user_max_lifetime_days: 730,
            admin_session_minutes: 12 * 60,
            auth_body_limit: 64 * 1024,
            admin_body_limit: 256 * 1024,
            cache_capacity: 200_000,
            thread_cache_capacity: 16_384,
            directory_recheck_millis: 1_000,
            usage_flush_millis: 2_000,
            legacy_usage_enabled: true,
            trust_forwarded_for: false,
            password_hashing: PasswordHashing::default(),
            password_concurrency: None,
            password_queue: None,
            header_read_timeout: 10.0,
            keep_alive_timeout: 60.0,
            max_connections: 10_000,
            throttle: crate::throttle::ThrottleConfig::default(),
            forward_auth: ForwardAuthConfig::default(),
            leak_report: LeakReportConfig::default(),
            lifecycle_check_seconds: 60.0,
            webhooks: WebhookConfig::default(),
            oauth: OAuthConfig::default(),
            serves_tls: false,
        }
    }
}

impl ServerConfig {
    /// Password verifications that run at once (see `password_concurrency`), at least one.
    pub fn password_workers(&self) -> usize {
        self.password_concurrency.unwrap_or_else(cores).max(1)
    }

    /// Password verifications that may wait beyond those running (see `password_queue`).
    pub fn password_queue_len(&self) -> usize {
        self.password_queue
            .unwrap_or_else(|| self.password_workers().saturating_mul(4))
    }
}

/// The number of cores this process may use (1 when it cannot be told).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// argon2id cost parameters (OWASP: 19 MiB, 2 passes, 1 lane).
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordHashing {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordHashing {
    /// The cheapest parameters argon2 accepts; for test suites only.
    pub fn insecure_fast_for_tests() -> Self {
        Self {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_header_is_one_of_the_three_original_uri_headers_in_any_case() {
        let named = |name: &str| ForwardAuthConfig {
            uri_header: Some(name.into()),
        };
        assert_eq!(
            ForwardAuthConfig::default().trusted_header().ok(),
            Some(None)
        );
        assert_eq!(
            named("x-forwarded-URI").trusted_header().ok().flatten(),
            Some(axum::http::HeaderName::from_static("x-forwarded-uri"))
        );
        assert_eq!(
            named(" X-Envoy-Original-Path ")
                .trusted_header()
                .ok()
                .flatten(),
            Some(axum::http::HeaderName::from_static("x-envoy-original-path"))
        );
        // A header no proxy sample sets would leave every request without a URI to check.
        for unknown in [
            "X-Uri",
            "",
            "X-Original-URI, X-Forwarded-Uri",
            "x original uri",
        ] {
            assert!(named(unknown).trusted_header().is_err(), "{unknown:?}");
        }
    }
}

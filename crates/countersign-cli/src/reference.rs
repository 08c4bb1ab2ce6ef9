//! The configuration as annotated TOML: `config defaults` (every key, its `COUNTERSIGN_*`
//! variable, its default) and `config check` (every effective value, secrets masked).
//!
//! Both walk the serialized configuration rather than a hand-kept list, so a field added to
//! `FileConfig` or `ServerConfig` shows up by itself; `DESCRIPTIONS` only annotates, and a test
//! fails when a key has no description (or a description names no key).

use crate::config::{FileConfig, mask_url};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What the commented line of an unset key that is not text shows.
const EXAMPLES: &[(&str, &str)] = &[
    ("server.password_concurrency", "4"),
    ("server.password_queue", "16"),
];

/// One line about every key, by dotted path.
pub const DESCRIPTIONS: &[(&str, &str)] = &[
    ("listen", "Address the HTTP server listens on."),
    (
        "database_url",
        "sqlite://PATH (the embedded default, WAL mode) or postgres://USER:PASSWORD@HOST/DB.",
    ),
    ("database_max_connections", "Pooled database connections."),
    (
        "log_format",
        "text or json; filter with RUST_LOG. Text is coloured only on a terminal without NO_COLOR.",
    ),
    (
        "pepper_file",
        "File holding the key pepper (hex, at least 32 bytes). Unset: generated on first start and stored in the database.",
    ),
    (
        "signing_key_file",
        "File holding the session-token signing key (hex, at least 32 bytes). Unset: generated on first start and stored in the database.",
    ),
    (
        "master_key_file",
        "File holding a master key (hex, at least 32 bytes); the pepper and signing key are then derived from it and never stored.",
    ),
    (
        "tls_cert_file",
        "PEM certificate chain (leaf first); with tls_key_file, TLS 1.2/1.3 is served directly and both files are re-read on SIGHUP. Unset: plain HTTP.",
    ),
    (
        "tls_key_file",
        "PEM private key (PKCS#8, PKCS#1 or SEC1) of tls_cert_file.",
    ),
    ("server", "The HTTP server and its authentication rules."),
    (
        "server.public_url",
        "Base URL clients reach this server at (DocuSign baseUrl, sunset links, console cookies). Default: http://{listen}, or https://{listen} when TLS is served directly.",
    ),
    (
        "server.session_default_minutes",
        "Session length of /authentication/apiUser when the request names none, in minutes.",
    ),
    (
        "server.session_max_minutes",
        "Longest session /authentication/apiUser grants, in minutes.",
    ),
    (
        "server.api_user_max_lifetime_days",
        "Longest lifetime of an API user at creation, in days.",
    ),
    (
        "server.admin_session_minutes",
        "How long an administrator session (admin API token or console cookie) lasts, in minutes.",
    ),
    (
        "server.auth_body_limit",
        "Largest body accepted on authentication endpoints, in bytes.",
    ),
    (
        "server.admin_body_limit",
        "Largest body accepted on the admin API, in bytes.",
    ),
    (
        "server.cache_capacity",
        "Entries per directory cache (API users, users, memberships, integrator keys); bounds memory.",
    ),
    (
        "server.thread_cache_capacity",
        "Verified credentials each worker thread keeps for the forward-auth fast path (0 turns it off).",
    ),
    (
        "server.directory_recheck_millis",
        "How often each node re-checks the directory version, in milliseconds (the safety net behind PostgreSQL NOTIFY; how SQLite sees CLI changes).",
    ),
    (
        "server.usage_flush_millis",
        "How often legacy-header usage counters are flushed to the database, in milliseconds (at most 5000).",
    ),
    (
        "server.legacy_usage_enabled",
        "Record legacy-header usage (source IPs and user agents included).",
    ),
    (
        "server.trust_forwarded_for",
        "Take the client address from X-Forwarded-For / X-Real-IP (only behind a proxy that sets them).",
    ),
    (
        "server.password_hashing",
        "argon2id parameters for new password hashes (OWASP: 19 MiB, 2 passes, 1 lane).",
    ),
    ("server.password_hashing.memory_kib", "Memory in KiB."),
    ("server.password_hashing.iterations", "Passes over memory."),
    ("server.password_hashing.parallelism", "Lanes."),
    (
        "server.throttle",
        "Throttling of repeated authentication failures (429 with Retry-After; 403 on forward auth).",
    ),
    (
        "server.throttle.name_failures",
        "Consecutive failures after which an API username or user is throttled.",
    ),
    (
        "server.throttle.integrator_key_failures",
        "Consecutive failures after which an integrator key is throttled.",
    ),
    (
        "server.throttle.ip_failures_per_minute",
        "Failures within a minute after which a source IP is throttled.",
    ),
    (
        "server.throttle.initial_backoff_seconds",
        "First back-off, in seconds (doubles on every further failure).",
    ),
    (
        "server.throttle.max_backoff_seconds",
        "Longest back-off, in seconds.",
    ),
    (
        "server.throttle.capacity",
        "Tracked names, keys and addresses at most (least recently used are forgotten first).",
    ),
    (
        "server.password_concurrency",
        "argon2id password verifications that run at once (default: the number of cores).",
    ),
    (
        "server.password_queue",
        "Verifications that may wait for a turn (default: 4 × password_concurrency); beyond it a request is refused at once with the throttle answer and Retry-After: 1.",
    ),
    (
        "server.header_read_timeout",
        "Seconds a connection may take to deliver its request headers before it is closed; a request's body must arrive within as long again (else the request is refused and the connection closed).",
    ),
    (
        "server.keep_alive_timeout",
        "Seconds an idle keep-alive connection is kept open.",
    ),
    (
        "server.max_connections",
        "Connections open at once at most; beyond, new ones are closed at once.",
    ),
    (
        "server.forward_auth",
        "How forward auth reads the proxy's headers.",
    ),
    (
        "server.lifecycle_check_seconds",
        "Seconds between two rounds of the credential lifecycle checks (expiry warnings, expiries, revocation of unused API users, silent rotations, sunsets); one node at a time runs them, under a lease in the database.",
    ),
    (
        "server.webhooks",
        "Webhook deliveries (Standard Webhooks): where they may go and how failures are retried.",
    ),
    (
        "server.webhooks.allow_http",
        "Accept http:// webhook URLs; otherwise only https://.",
    ),
    (
        "server.webhooks.allow_private",
        "Deliver to loopback, private, link-local, unique-local and unspecified addresses, refused by default at creation and on the resolved address at each delivery.",
    ),
    (
        "server.webhooks.retry_base_seconds",
        "Seconds before the first retry of a failed delivery; each later retry waits twice as long (8 attempts in all).",
    ),
    (
        "server.forward_auth.uri_header",
        "The one original-URI header to trust (X-Original-URI, X-Forwarded-Uri or X-Envoy-Original-Path; any other name stops the start); the others are then ignored, and a /v1/verify request without it is refused (403). Unset: all three are read and a request where they disagree is refused (403).",
    ),
    (
        "server.leak_report",
        "Secret-scanning leak reports at POST /v1/credentials/leaked.",
    ),
    (
        "server.leak_report.public_keys_file",
        "GitHub's secret-scanning public keys as JSON ({\"public_keys\": [{\"key_identifier\", \"key\", \"is_current\"}]}, ECDSA P-256 PEM); every report must then be signed with one of them (401 otherwise). Re-read when the file changes. Unset: reports are accepted unsigned.",
    ),
    (
        "server.oauth",
        "DocuSign OAuth 2.0 (JWT Grant, Authorization Code Grant).",
    ),
    (
        "server.oauth.audiences",
        "OAuth host names a JWT Grant assertion's aud may name besides the host[:port] of public_url, which is always accepted (other names the server is reached by). From the environment, a TOML array: [\"auth.example.com\"].",
    ),
];

/// The `COUNTERSIGN_*` variable of each key that has one (the flags' `env` names).
fn variables() -> BTreeMap<String, String> {
    use clap::CommandFactory;
    let command = crate::Cli::command();
    let mut found = BTreeMap::new();
    for argument in command.get_arguments() {
        let Some(variable) = argument.get_env() else {
            continue;
        };
        let id = argument.get_id().as_str();
        let key = match id {
            "public_url" => "server.public_url".to_owned(),
            other => other.to_owned(),
        };
        found.insert(key, variable.to_string_lossy().into_owned());
    }
    for path in crate::config::server_leaf_paths(&FileConfig::default()) {
        if let Some(variable) = crate::config::server_variable(&path) {
            found.entry(path).or_insert(variable);
        }
    }
    found
}

/// The configuration as a JSON tree: every field, `null` for an unset option.
pub fn tree(config: &FileConfig) -> Value {
    serde_json::to_value(config).unwrap_or(Value::Null)
}

/// Every dotted key of a tree (tables included), in the order they are printed.
#[cfg(test)]
fn keys(tree: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_keys(tree, "", &mut out);
    out
}

#[cfg(test)]
fn collect_keys(value: &Value, prefix: &str, out: &mut Vec<String>) {
    let Value::Object(map) = value else {
        return;
    };
    let (scalars, tables) = split(map, prefix);
    for (key, _) in scalars.iter().chain(tables.iter()) {
        let path = join(prefix, key);
        out.push(path.clone());
        if let Some(child @ Value::Object(_)) = map.get(*key) {
            collect_keys(child, &path, out);
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Keys of one table with their values.
type Entries<'a> = Vec<(&'a str, &'a Value)>;

/// Scalars first, then sub-tables (TOML needs a table's own keys before its sub-tables), each
/// in the order of `DESCRIPTIONS` (keys it lacks last, alphabetically).
fn split<'a>(map: &'a Map<String, Value>, prefix: &str) -> (Entries<'a>, Entries<'a>) {
    let mut entries: Vec<(usize, &str, &Value)> = map
        .iter()
        .map(|(key, value)| {
            let path = join(prefix, key);
            let rank = DESCRIPTIONS
                .iter()
                .position(|(described, _)| *described == path)
                .unwrap_or(usize::MAX);
            (rank, key.as_str(), value)
        })
        .collect();
    entries.sort_by_key(|(rank, key, _)| (*rank, *key));
    entries
        .into_iter()
        .map(|(_, key, value)| (key, value))
        .partition(|(_, value)| !value.is_object())
}

/// A comment, wrapped before 100 columns.
fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 98 && line.len() > 1 {
            let _ = writeln!(out, "{line}");
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    let _ = writeln!(out, "{line}");
}

fn description(path: &str) -> &'static str {
    DESCRIPTIONS
        .iter()
        .find(|(key, _)| *key == path)
        .map_or("(undocumented)", |(_, text)| text)
}

/// A scalar or array as a TOML value.
fn toml_value(value: &Value) -> String {
    match value {
        Value::String(text) => toml::Value::String(text.clone()).to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

/// `countersign config defaults`: the complete configuration as annotated TOML.
pub fn defaults() -> String {
    let config = FileConfig::default();
    let variables = variables();
    let mut out = String::new();
    out.push_str(
        "# countersign configuration: every key with its default.\n\
         # Precedence: these defaults < countersign.toml (or --config FILE, COUNTERSIGN_CONFIG)\n\
         # < COUNTERSIGN_* environment variables < command-line flags.\n\
         # Bootstrap only (first start on an empty database): COUNTERSIGN_ADMIN_EMAIL and\n\
         # COUNTERSIGN_ADMIN_PASSWORD choose the first administrator.\n",
    );
    render(
        &tree(&config),
        "",
        &mut out,
        &|path, value, out| {
            out.push('\n');
            comment(out, description(path));
            if let Some(variable) = variables.get(path) {
                let _ = writeln!(out, "# Environment: {variable}");
            }
            let key = path.rsplit('.').next().unwrap_or(path);
            if value.is_null() {
                // A commented line to fill in, of the key's type.
                let example = EXAMPLES
                    .iter()
                    .find(|(known, _)| *known == path)
                    .map_or("\"\"", |(_, example)| example);
                let _ = writeln!(out, "# Default: not set.\n# {key} = {example}");
            } else {
                let _ = writeln!(out, "{key} = {}", toml_value(value));
            }
        },
        true,
    );
    out
}

/// Whether a key holds a secret itself (not a file naming one).
fn is_secret(path: &str) -> bool {
    let key = path.rsplit('.').next().unwrap_or(path);
    let names_a_secret = ["password", "secret", "token", "pepper"]
        .iter()
        .any(|word| key.contains(word))
        || key.ends_with("_key");
    names_a_secret && !key.ends_with("_file")
}

/// `countersign config check`: every effective setting, secrets masked.
pub fn effective(config: &FileConfig) -> (String, Value) {
    let mut tree = tree(config);
    // Unset, it means the number of cores: the effective value is that number.
    if let Some(slot) = tree
        .get_mut("server")
        .and_then(|server| server.get_mut("password_concurrency"))
        .filter(|slot| slot.is_null())
    {
        *slot = Value::from(config.server.password_workers());
    }
    mask(&mut tree, "");
    if let Some(url) = tree.get_mut("database_url") {
        *url = Value::String(mask_url(&config.database_url));
    }
    let mut out = String::from("# effective countersign configuration (secrets masked)\n");
    render(
        &tree,
        "",
        &mut out,
        &|path, value, out| {
            let key = path.rsplit('.').next().unwrap_or(path);
            if value.is_null() {
                let _ = writeln!(out, "# {key} is not set");
            } else {
                let _ = writeln!(out, "{key} = {}", toml_value(value));
            }
        },
        false,
    );
    (out, tree)
}

fn mask(value: &mut Value, prefix: &str) {
    if let Value::Object(map) = value {
        for (key, child) in map.iter_mut() {
            let path = join(prefix, key);
            if child.is_object() {
                mask(child, &path);
            } else if is_secret(&path) && child.is_string() {
                // Secrets are text; a count such as `password_concurrency` is not one.
                *child = Value::String("****".into());
            }
        }
    }
}

type Line<'a> = &'a dyn Fn(&str, &Value, &mut String);

fn render(value: &Value, prefix: &str, out: &mut String, line: Line<'_>, annotate_tables: bool) {
    let Value::Object(map) = value else {
        return;
    };
    let (scalars, tables) = split(map, prefix);
    for (key, value) in scalars {
        line(&join(prefix, key), value, out);
    }
    for (key, value) in tables {
        let path = join(prefix, key);
        out.push('\n');
        if annotate_tables {
            comment(out, description(&path));
        }
        let _ = writeln!(out, "[{path}]");
        render(value, &path, out, line, annotate_tables);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_description_and_every_description_a_key() {
        let keys = keys(&tree(&FileConfig::default()));
        for key in &keys {
            assert_ne!(
                description(key),
                "(undocumented)",
                "describe `{key}` in reference::DESCRIPTIONS"
            );
        }
        for (described, _) in DESCRIPTIONS {
            assert!(
                keys.iter().any(|key| key == described),
                "`{described}` is described but is no configuration key"
            );
        }
    }

    #[test]
    fn defaults_parse_back_into_the_default_configuration() {
        let parsed: FileConfig = toml::from_str(&defaults()).expect("defaults are valid TOML");
        assert_eq!(tree(&parsed), tree(&FileConfig::default()));
    }

    #[test]
    fn secrets_are_masked_and_file_paths_are_not() {
        assert!(is_secret("server.webhooks.secret"));
        assert!(is_secret("server.admin_password"));
        assert!(!is_secret("pepper_file"));
        assert!(!is_secret("server.leak_report.public_keys_file"));
        assert!(!is_secret("server.session_max_minutes"));
    }

    #[test]
    fn config_check_shows_the_password_concurrency_in_effect_and_masks_no_count() {
        let config = FileConfig {
            database_url: "postgres://app:hunter2@db/countersign".into(),
            ..FileConfig::default()
        };
        let (_, tree) = effective(&config);
        let workers = config.server.password_workers();
        assert_eq!(tree["server"]["password_concurrency"], Value::from(workers));
        assert!(!tree.to_string().contains("hunter2"));
    }
}

//! Configuration loading: defaults < `countersign.toml` < `COUNTERSIGN_*` environment < flags.
//! This is the only place that reads files and environment variables.

use anyhow::{Context, Result};
use countersign_server::config::ServerConfig;
use countersign_server::tls::TlsFiles;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole configuration of a `countersign` process.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Pooled database connections.
    pub database_max_connections: u32,
    /// `text` or `json` logs.
    pub log_format: String,
    /// File holding the key pepper (hex); generated and stored in the database when absent.
    pub pepper_file: Option<PathBuf>,
    /// File holding the token signing key (hex); generated and stored when absent.
    pub signing_key_file: Option<PathBuf>,
    /// File holding a master key (hex, at least 32 bytes); when set, the pepper and signing key
    /// are derived from it and never stored in the database.
    pub master_key_file: Option<PathBuf>,
    /// PEM certificate chain to serve TLS with directly (with `tls_key_file`).
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// HTTP server settings.
    pub server: ServerConfig,
}

impl Default for FileConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://countersign.db".into(),
            database_max_connections: 16,
            log_format: "text".into(),
            pepper_file: None,
            signing_key_file: None,
            master_key_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            server: ServerConfig::default(),
        }
    }
}

/// Values from flags or `COUNTERSIGN_*` variables (clap merges the two, flags winning).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Overrides {
    /// Configuration file (default: ./countersign.toml when present).
    #[arg(long, global = true, env = "COUNTERSIGN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://…
    #[arg(long = "database", global = true, env = "COUNTERSIGN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on.
    #[arg(long, global = true, env = "COUNTERSIGN_LISTEN")]
    pub listen: Option<String>,
    /// Public base URL (used in DocuSign baseUrl and links).
    #[arg(long, global = true, env = "COUNTERSIGN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Pooled database connections.
    #[arg(long, global = true, env = "COUNTERSIGN_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
    /// Log format: text or json.
    #[arg(long, global = true, env = "COUNTERSIGN_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// File with the key pepper (hex).
    #[arg(long, global = true, env = "COUNTERSIGN_PEPPER_FILE")]
    pub pepper_file: Option<PathBuf>,
    /// File with the token signing key (hex).
    #[arg(long, global = true, env = "COUNTERSIGN_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
    /// File with a master key (hex); secrets are then derived, never stored.
    #[arg(long, global = true, env = "COUNTERSIGN_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// PEM certificate chain: serve TLS directly (needs --tls-key; re-read on SIGHUP).
    #[arg(long = "tls-cert", global = true, env = "COUNTERSIGN_TLS_CERT")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long = "tls-key", global = true, env = "COUNTERSIGN_TLS_KEY")]
    pub tls_key_file: Option<PathBuf>,
}

/// Loads the file (if any) and applies overrides.
///
/// # Errors
/// Fails when the named file cannot be read or parsed.
pub fn load(overrides: &Overrides) -> Result<FileConfig> {
    let path = overrides.config.clone().or_else(|| {
        let default = PathBuf::from("countersign.toml");
        default.exists().then_some(default)
    });
    let mut config = match &path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => FileConfig::default(),
    };
    apply_server_environment(&mut config, |name| std::env::var(name).ok())?;
    if let Some(url) = &overrides.database_url {
        config.database_url.clone_from(url);
    }
    if let Some(listen) = &overrides.listen {
        config.listen.clone_from(listen);
    }
    if overrides.tls_cert_file.is_some() {
        config.tls_cert_file.clone_from(&overrides.tls_cert_file);
    }
    if overrides.tls_key_file.is_some() {
        config.tls_key_file.clone_from(&overrides.tls_key_file);
    }
    if let Some(public_url) = &overrides.public_url {
        config.server.public_url.clone_from(public_url);
    } else if path.is_none() || config.server.public_url == ServerConfig::default().public_url {
        let scheme = if config.tls_cert_file.is_some() || config.tls_key_file.is_some() {
            "https"
        } else {
            "http"
        };
        config.server.public_url = format!("{scheme}://{}", config.listen);
    }
    if let Some(n) = overrides.database_max_connections {
        config.database_max_connections = n;
    }
    if let Some(format) = &overrides.log_format {
        config.log_format.clone_from(format);
    }
    if overrides.pepper_file.is_some() {
        config.pepper_file.clone_from(&overrides.pepper_file);
    }
    if overrides.signing_key_file.is_some() {
        config
            .signing_key_file
            .clone_from(&overrides.signing_key_file);
    }
    if overrides.master_key_file.is_some() {
        config
            .master_key_file
            .clone_from(&overrides.master_key_file);
    }
    config.server.public_url = config.server.public_url.trim_end_matches('/').to_owned();
    Ok(config)
}

/// The `server.*` keys set by their own flag (and its variable) rather than by
/// [`server_variable`].
const SERVER_KEYS_WITH_FLAGS: [&str; 1] = ["server.public_url"];

/// The environment variable of a `server.*` key: `COUNTERSIGN_` and its dotted path in capitals
/// with `_` for `.` (`server.throttle.name_failures` → `COUNTERSIGN_SERVER_THROTTLE_NAME_FAILURES`).
/// `None` for a key with a flag of its own (its variable is the flag's).
pub fn server_variable(path: &str) -> Option<String> {
    (path.starts_with("server.") && !SERVER_KEYS_WITH_FLAGS.contains(&path)).then(|| {
        format!(
            "COUNTERSIGN_{}",
            path.replace('.', "_").to_ascii_uppercase()
        )
    })
}

/// Every leaf key under `server` (dotted, tables excluded), unset options included.
pub fn server_leaf_paths(config: &FileConfig) -> Vec<String> {
    fn walk(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        if let serde_json::Value::Object(map) = value {
            for (key, child) in map {
                let path = format!("{prefix}.{key}");
                if child.is_object() {
                    walk(child, &path, out);
                } else {
                    out.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(tree) = serde_json::to_value(&config.server) {
        walk(&tree, "server", &mut out);
    }
    out
}

/// Applies `COUNTERSIGN_SERVER_*` variables (see [`server_variable`]) over the file's values, one
/// at a time. A text key takes the value as written; any other is read as a TOML value (`30`,
/// `true`, `[7, 1]`); an unset optional key takes the TOML reading when it fits, else the text.
/// A value that does not fit its key stops the start with the variable's name.
fn apply_server_environment(
    config: &mut FileConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<()> {
    for path in server_leaf_paths(config) {
        let Some(variable) = server_variable(&path) else {
            continue;
        };
        let Some(text) = lookup(&variable) else {
            continue;
        };
        let tree = serde_json::to_value(&config.server).context("reading the configuration")?;
        let current = path
            .split('.')
            .skip(1)
            .try_fold(&tree, |value, key| value.get(key))
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let candidates = match current {
            serde_json::Value::String(_) => vec![serde_json::Value::String(text.clone())],
            serde_json::Value::Null => toml_scalar(&text)
                .filter(|value| !value.is_string())
                .into_iter()
                .chain([serde_json::Value::String(text.clone())])
                .collect(),
            _ => vec![
                toml_scalar(&text)
                    .with_context(|| format!("{variable}: {text:?} is not a TOML value"))?,
            ],
        };
        let mut refusal = None;
        for candidate in candidates {
            let mut changed = tree.clone();
            let mut at = &mut changed;
            for key in path.split('.').skip(1) {
                at = &mut at[key];
            }
            *at = candidate;
            match serde_json::from_value::<ServerConfig>(changed) {
                Ok(server) => {
                    config.server = server;
                    refusal = None;
                    break;
                }
                Err(error) => refusal = Some(error),
            }
        }
        if let Some(error) = refusal {
            return Err(error)
                .with_context(|| format!("{variable}: {text:?} is not a value of {path}"));
        }
    }
    Ok(())
}

/// `text` read as a TOML value (`30`, `1.5`, `true`, `["a"]`), as JSON.
fn toml_scalar(text: &str) -> Option<serde_json::Value> {
    let table: toml::Table = toml::from_str(&format!("value = {text}")).ok()?;
    serde_json::to_value(table.get("value")?).ok()
}

/// The certificate and key to serve TLS with, when both are configured.
///
/// # Errors
/// Fails when only one of the two is given, naming the other.
pub fn tls_files(config: &FileConfig) -> Result<Option<TlsFiles>> {
    match (&config.tls_cert_file, &config.tls_key_file) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => anyhow::bail!(
            "--tls-cert needs --tls-key (COUNTERSIGN_TLS_KEY, tls_key_file) with its private key"
        ),
        (None, Some(_)) => anyhow::bail!(
            "--tls-key needs --tls-cert (COUNTERSIGN_TLS_CERT, tls_cert_file) with its certificate"
        ),
    }
}

/// Reads a hex secret from a file (whitespace trimmed).
///
/// # Errors
/// Fails when unreadable or not hex of at least 32 bytes.
pub fn read_secret_file(path: &Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading secret file {}", path.display()))?;
    let bytes = hex::decode(text.trim())
        .with_context(|| format!("secret file {} must hold hex", path.display()))?;
    anyhow::ensure!(
        bytes.len() >= 32,
        "secret file {} must hold at least 32 bytes",
        path.display()
    );
    Ok(bytes)
}

/// Masks the password in a database URL for display.
pub fn mask_url(url: &str) -> String {
    countersign_store::redact_url(url)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(variables: &[(&str, &str)]) -> Result<FileConfig> {
        let variables: HashMap<String, String> = variables
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut config = FileConfig::default();
        apply_server_environment(&mut config, |name| variables.get(name).cloned())?;
        Ok(config)
    }

    #[test]
    fn every_server_key_is_set_by_its_own_variable() {
        let config = with(&[
            ("COUNTERSIGN_SERVER_SESSION_MAX_MINUTES", "30"),
            ("COUNTERSIGN_SERVER_THROTTLE_NAME_FAILURES", "3"),
            (
                "COUNTERSIGN_SERVER_FORWARD_AUTH_URI_HEADER",
                "X-Forwarded-Uri",
            ),
            ("COUNTERSIGN_SERVER_PASSWORD_QUEUE", "7"),
            ("COUNTERSIGN_SERVER_WEBHOOKS_ALLOW_HTTP", "true"),
            ("COUNTERSIGN_SERVER_TRUST_FORWARDED_FOR", "true"),
        ])
        .unwrap();
        assert_eq!(config.server.session_max_minutes, 30);
        assert_eq!(config.server.throttle.name_failures, 3);
        assert_eq!(
            config.server.forward_auth.uri_header.as_deref(),
            Some("X-Forwarded-Uri")
        );
        assert_eq!(config.server.password_queue, Some(7));
        assert!(config.server.webhooks.allow_http);
        assert!(config.server.trust_forwarded_for);
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_variable() {
        for (variable, value) in [
            ("COUNTERSIGN_SERVER_SESSION_MAX_MINUTES", "soon"),
            ("COUNTERSIGN_SERVER_SESSION_MAX_MINUTES", "1.5"),
            ("COUNTERSIGN_SERVER_TRUST_FORWARDED_FOR", "\"yes\""),
            ("COUNTERSIGN_SERVER_PASSWORD_CONCURRENCY", "four"),
        ] {
            let error = with(&[(variable, value)]).unwrap_err();
            assert!(format!("{error:#}").contains(variable), "{error:#}");
        }
    }

    #[test]
    fn an_unset_text_key_takes_the_text_even_when_it_reads_as_toml() {
        let config = with(&[("COUNTERSIGN_SERVER_FORWARD_AUTH_URI_HEADER", "true")]).unwrap();
        assert_eq!(
            config.server.forward_auth.uri_header.as_deref(),
            Some("true")
        );
        let config = with(&[("COUNTERSIGN_SERVER_PASSWORD_CONCURRENCY", "3")]).unwrap();
        assert_eq!(config.server.password_concurrency, Some(3));
    }

    #[test]
    fn variable_names_are_distinct_and_flags_keep_their_own() {
        let paths = server_leaf_paths(&FileConfig::default());
        let names: std::collections::BTreeSet<String> =
            paths.iter().filter_map(|p| server_variable(p)).collect();
        assert_eq!(names.len(), paths.len() - SERVER_KEYS_WITH_FLAGS.len());
        assert_eq!(server_variable("server.public_url"), None);
    }
}

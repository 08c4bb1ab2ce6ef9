//! The public keys that sign secret-scanning leak reports (SPEC §14): GitHub's JSON
//! `{"public_keys": [{"key_identifier", "key", "is_current"}]}` with ECDSA P-256 keys in PEM,
//! read from `[server.leak_report] public_keys_file` at start and again whenever the file
//! changes (GitHub rotates its keys; the file can be replaced without a restart).
//!
//! Like the TLS files, this is a file the server itself re-reads while it runs.

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Largest public-keys file read.
const MAX_FILE_LEN: u64 = 1024 * 1024;

/// Why the public-keys file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LeakKeysError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than 1 MiB.
    #[error("{path} is larger than 1 MiB")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not GitHub's JSON, or a key is not an ECDSA P-256 public key in PEM.
    #[error("{path}: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

#[derive(Deserialize)]
struct KeysFile {
    public_keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
struct KeyEntry {
    key_identifier: String,
    key: String,
}

/// Parsed public keys, by identifier.
#[derive(Debug, Default)]
pub(crate) struct PublicKeys {
    keys: Vec<(String, VerifyingKey)>,
}

/// Why a report's signature is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignatureError {
    /// No configured key has this identifier.
    UnknownKey,
    /// The signature is not base64 of a DER ECDSA signature.
    Malformed,
    /// The signature does not match the body.
    Mismatch,
}

impl PublicKeys {
    /// Parses GitHub's public-keys JSON.
    fn parse(path: &Path, text: &[u8]) -> Result<Self, LeakKeysError> {
        let invalid = |detail: String| LeakKeysError::Invalid {
            path: path.to_owned(),
            detail,
        };
        let file: KeysFile = serde_json::from_slice(text).map_err(|error| {
            invalid(format!(
                "not the public-keys JSON ({{\"public_keys\": [{{\"key_identifier\", \"key\", \"is_current\"}}]}}): line {}, column {}",
                error.line(),
                error.column()
            ))
        })?;
        let mut keys = Vec::with_capacity(file.public_keys.len());
        for entry in file.public_keys {
            let key = VerifyingKey::from_public_key_pem(entry.key.trim()).map_err(|_| {
                invalid(format!(
                    "key {:?} is not an ECDSA P-256 public key in PEM",
                    entry.key_identifier
                ))
            })?;
            keys.push((entry.key_identifier, key));
        }
        if keys.is_empty() {
            return Err(invalid("no public key in the file".into()));
        }
        Ok(Self { keys })
    }

    /// Checks `signature` (base64 of a DER ECDSA P-256/SHA-256 signature) over `body` with the
    /// key named `identifier`.
    pub(crate) fn verify(
        &self,
        identifier: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        use base64::Engine;
        let key = self
            .keys
            .iter()
            .find(|(id, _)| id == identifier)
            .map(|(_, key)| key)
            .ok_or(SignatureError::UnknownKey)?;
        let der = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureError::Malformed)?;
        let signature = Signature::from_der(&der).map_err(|_| SignatureError::Malformed)?;
        key.verify(body, &signature)
            .map_err(|_| SignatureError::Mismatch)
    }
}

/// The configured public-keys file and its last reading.
#[derive(Debug)]
pub(crate) struct LeakKeys {
    path: PathBuf,
    loaded: Mutex<(Option<SystemTime>, Arc<PublicKeys>)>,
}

fn read(path: &Path) -> Result<(Option<SystemTime>, PublicKeys), LeakKeysError> {
    let read_error = |source| LeakKeysError::Read {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if metadata.len() > MAX_FILE_LEN {
        return Err(LeakKeysError::TooLarge {
            path: path.to_owned(),
        });
    }
    let text = std::fs::read(path).map_err(read_error)?;
    Ok((metadata.modified().ok(), PublicKeys::parse(path, &text)?))
}

impl LeakKeys {
    /// Reads the file at start.
    ///
    /// # Errors
    /// Why the file cannot be used (the server does not start with a broken file).
    pub(crate) fn load(path: &Path) -> Result<Self, LeakKeysError> {
        let (modified, keys) = read(path)?;
        Ok(Self {
            path: path.to_owned(),
            loaded: Mutex::new((modified, Arc::new(keys))),
        })
    }

    /// The current keys: the file is read again when its modification time has changed; a
    /// file that has become unreadable or invalid keeps the last good keys (and is logged).
    pub(crate) fn current(&self) -> Arc<PublicKeys> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if modified.is_some() && modified != loaded.0 {
            match read(&self.path) {
                Ok((modified, keys)) => *loaded = (modified, Arc::new(keys)),
                Err(error) => {
                    tracing::error!(%error, "leak_report.public_keys_file could not be re-read; the previous keys stay in use");
                    loaded.0 = modified;
                }
            }
        }
        loaded.1.clone()
    }
}

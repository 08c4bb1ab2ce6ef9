//! Server secrets: the key pepper, the token signing keys and the webhook sealing key, generated from the OS CSPRNG on
//! first start and stored in the database, supplied from files, or derived from a master key.

use countersign_store::{Store, StoreError};
use rand::RngCore;
use std::collections::HashMap;

/// Server-side secrets: the key pepper and the token signing keys.
///
/// # Security
/// Generated from the OS CSPRNG on first start and stored in the database, unless supplied.
#[derive(Clone)]
pub struct Secrets {
    /// HMAC key under which API keys and admin session tokens are digested.
    pub pepper: Vec<u8>,
    /// The key id new tokens are signed with.
    pub signing_kid: u32,
    /// Signing secrets by key id.
    pub signing: HashMap<u32, Vec<u8>>,
    /// Key that seals webhook signing secrets at rest (the server must sign with them, so they
    /// cannot be stored as digests).
    pub webhook_sealing: Vec<u8>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("signing_kid", &self.signing_kid)
            .finish_non_exhaustive()
    }
}

/// Secrets supplied by the operator instead of generated ones (e.g. from `*_FILE`).
#[derive(Clone, Default)]
pub struct SuppliedSecrets {
    /// Pepper bytes.
    pub pepper: Option<Vec<u8>>,
    /// Signing key bytes (key id 1).
    pub signing_key: Option<Vec<u8>>,
    /// A master key: when set, the pepper and signing key not supplied otherwise are derived
    /// from it (HMAC-SHA256 per purpose) and never written to the database, so a database dump
    /// holds no usable secret.
    pub master_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for SuppliedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuppliedSecrets([redacted])")
    }
}

/// Random bytes from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

impl Secrets {
    /// Loads the secrets from the database, generating and storing them on first start.
    ///
    /// # Errors
    /// Returns the store's error.
    pub async fn load(
        store: &Store,
        supplied: &SuppliedSecrets,
        now: time::OffsetDateTime,
    ) -> Result<Self, StoreError> {
        let pepper = match (&supplied.pepper, &supplied.master_key) {
            (Some(pepper), _) => pepper.clone(),
            (None, Some(master)) => derive(master, "key_pepper"),
            (None, None) => stored(store, "key_pepper", now).await?,
        };
        let signing_key = match (&supplied.signing_key, &supplied.master_key) {
            (Some(key), _) => key.clone(),
            (None, Some(master)) => derive(master, "token_signing_key_1"),
            (None, None) => stored(store, "token_signing_key_1", now).await?,
        };
        let webhook_sealing = match &supplied.master_key {
            Some(master) => derive(master, "webhook_sealing_key"),
            None => stored(store, "webhook_sealing_key", now).await?,
        };
        Ok(Self {
            pepper,
            signing_kid: 1,
            signing: HashMap::from([(1, signing_key)]),
            webhook_sealing,
        })
    }
}

/// The token signing keys of an installation, for a verifier that only reads (the in-process
/// `countersign-verify`): derived from the master key when one is given, otherwise read from
/// the database; never generated.
///
/// # Errors
/// `NotFound` when no node has started on the database yet; `Corrupt` for a stored key that
/// is not hex.
pub async fn signing_keys(
    store: &Store,
    master_key: Option<&[u8]>,
) -> Result<HashMap<u32, Vec<u8>>, StoreError> {
    let key =
        match master_key {
            Some(master) => derive(master, "token_signing_key_1"),
            None => {
                let stored = store.find_secret("token_signing_key_1").await?.ok_or(
                    StoreError::NotFound {
                        entity: "signing key",
                    },
                )?;
                hex::decode(stored).map_err(|_| StoreError::Corrupt {
                    what: "signing key",
                })?
            }
        };
    Ok(HashMap::from([(1, key)]))
}

/// Derives a purpose-bound secret from the master key.
fn derive(master: &[u8], purpose: &str) -> Vec<u8> {
    hex::decode(countersign_core::key::digest_key_text(purpose, master)).unwrap_or_default()
}

async fn stored(
    store: &Store,
    name: &str,
    now: time::OffsetDateTime,
) -> Result<Vec<u8>, StoreError> {
    let generated = hex::encode(random_bytes::<32>());
    let value = store.get_or_insert_secret(name, &generated, now).await?;
    hex::decode(value).map_err(|_| StoreError::Corrupt {
        what: "server secret",
    })
}

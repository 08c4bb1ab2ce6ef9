//! Password hashing with argon2id, run off the async executor.

use crate::config::PasswordHashing;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest accepted password, in bytes; bounds hashing work.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Shortest password an administrator may set.
pub const MIN_PASSWORD_LEN: usize = 8;

fn hasher(params: PasswordHashing) -> Argon2<'static> {
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .unwrap_or_else(|_| Params::default());
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (salt from the OS CSPRNG).
///
/// # Errors
/// Returns an error only if argon2 refuses the input (never for bounded passwords).
pub async fn hash(
    password: String,
    params: PasswordHashing,
) -> Result<String, argon2::password_hash::Error> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        hasher(params)
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .unwrap_or(Err(argon2::password_hash::Error::Crypto))
}

/// Password verification for sign-in and the legacy header: argon2id off the executor, with
/// the dummy hash an unknown user is verified against (equal work) and a count of the
/// verifications made (so tests can check the equal work).
#[derive(Debug)]
pub struct Passwords {
    dummy_hash: String,
    verifications: AtomicU64,
}

impl Passwords {
    /// Verification against `dummy_hash` for unknown users.
    pub fn new(dummy_hash: String) -> Self {
        Self {
            dummy_hash,
            verifications: AtomicU64::new(0),
        }
    }

    /// The hash an unknown user's password is verified against.
    pub fn dummy_hash(&self) -> String {
        self.dummy_hash.clone()
    }

    /// Verifies a password against a PHC string off the executor, counting the verification.
    pub async fn verify(&self, password: &str, phc: String) -> bool {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        verify(password.to_owned(), phc).await
    }

    /// The verifications made so far.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

/// Verifies a password against a PHC string; an unparseable hash verifies nothing.
pub async fn verify(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_blocking(&password, &phc))
        .await
        .unwrap_or(false)
}

/// Verifies on the current thread (for callers already off the executor).
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Checks the length of a password an administrator sets.
///
/// # Errors
/// Returns a human-readable reason.
pub fn validate(password: &str) -> Result<(), &'static str> {
    if password.len() < MIN_PASSWORD_LEN {
        return Err("password must be at least 8 characters");
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err("password must be at most 1024 bytes");
    }
    Ok(())
}

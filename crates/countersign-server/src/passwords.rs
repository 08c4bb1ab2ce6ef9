//! Password hashing with argon2id, run off the async executor, and the bounded pool that
//! verification goes through (SPEC §9).
//!
//! argon2id costs tens of milliseconds and 19 MiB per verification, so an unbounded burst of
//! wrong passwords would queue thousands of blocking tasks and their memory. At most
//! `password_concurrency` verifications run at once; up to `password_queue` more wait for a
//! turn (holding only a small future, not argon2 memory); a request beyond that is refused at
//! once with the throttle answer (429, or 403 on forward auth, `Retry-After: 1`).

use crate::config::PasswordHashing;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// The pool is full: nothing more may wait for a verification now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("too many password verifications in progress")]
pub struct Busy;

/// The bounded pool of argon2 verifications.
#[derive(Debug)]
pub struct PasswordPool {
    /// Verifications running or waiting; a request that cannot take one is refused.
    admitted: Arc<Semaphore>,
    /// Verifications running.
    running: Arc<Semaphore>,
    concurrency: usize,
    queue: usize,
}

/// A place in the pool: its holder may verify passwords, one after another.
#[derive(Debug)]
pub struct PoolSlot {
    _admitted: OwnedSemaphorePermit,
    running: Arc<Semaphore>,
}

impl PasswordPool {
    /// A pool running `concurrency` verifications at once (at least 1) with `queue` more
    /// waiting.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            admitted: Arc::new(Semaphore::new(concurrency.saturating_add(queue))),
            running: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            queue,
        }
    }

    /// Verifications that may run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Verifications that may wait for a turn.
    pub fn queue(&self) -> usize {
        self.queue
    }

    /// Places taken (verifications running or waiting).
    pub fn in_use(&self) -> usize {
        self.concurrency
            .saturating_add(self.queue)
            .saturating_sub(self.admitted.available_permits())
    }

    /// Takes a place in the pool, or refuses at once when every place is taken.
    ///
    /// # Errors
    /// [`Busy`] when `concurrency + queue` places are taken.
    pub fn try_reserve(&self) -> Result<PoolSlot, Busy> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        Ok(PoolSlot {
            _admitted: admitted,
            running: self.running.clone(),
        })
    }
}

impl PoolSlot {
    /// Waits for a turn to run (one of `concurrency`); `None` only if the pool is closed.
    pub async fn turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.running.acquire().await.ok()
    }

    /// Verifies a password against a PHC string once a turn to run is free; an unparseable hash
    /// verifies nothing.
    pub async fn verify(&self, password: String, phc: String) -> bool {
        let Some(_turn) = self.turn().await else {
            return false;
        };
        verify(password, phc).await
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

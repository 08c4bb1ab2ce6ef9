//! Password hashing with argon2id, run off the async executor, and the bounded pool that
//! verification goes through (SPEC §9).
//!
//! argon2id costs tens of milliseconds and 19 MiB per verification, so an unbounded burst of
//! wrong passwords would queue thousands of blocking tasks and their memory. At most
//! `password_concurrency` verifications run at once; up to `password_queue` more wait for a
//! turn (holding only a small future, not argon2 memory); a request beyond that is refused at
//! once with the throttle answer (429, or 403 on forward auth, `Retry-After: 1`).

use crate::config::PasswordHashing;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Largest argon2 memory a stored hash may ask for at verification, in KiB (1 GiB); a hash that
/// asks for more verifies nothing rather than exhausting memory.
pub const MAX_VERIFY_MEMORY_KIB: u32 = 1024 * 1024;

/// argon2 working memory kept between verifications: one buffer per running turn at most.
///
/// Allocating 19 MiB per verification and freeing it raises glibc's dynamic mmap threshold, after
/// which each thread's arena keeps what it freed: measured, a burst of 500 wrong passwords left
/// about 220 MB resident with two verifications at a time. Reused buffers keep it at
/// `password_concurrency` × the argon2 memory.
type Buffers = Arc<Mutex<Vec<Vec<Block>>>>;

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
    pool: PasswordPool,
}

impl Passwords {
    /// Verification through `pool`, against `dummy_hash` for unknown users.
    pub fn new(dummy_hash: String, pool: PasswordPool) -> Self {
        Self {
            dummy_hash,
            verifications: AtomicU64::new(0),
            pool,
        }
    }

    /// Takes a place in the pool (see [`PasswordPool::try_reserve`]).
    ///
    /// # Errors
    /// [`Busy`] when every place is taken.
    pub fn try_reserve(&self) -> Result<PoolSlot, Busy> {
        self.pool.try_reserve()
    }

    /// The pool verifications run in.
    pub fn pool(&self) -> &PasswordPool {
        &self.pool
    }

    /// The hash an unknown user's password is verified against.
    pub fn dummy_hash(&self) -> String {
        self.dummy_hash.clone()
    }

    /// Verifies a password against a PHC string off the executor, through the bounded pool,
    /// counting the verification.
    ///
    /// # Errors
    /// [`Busy`] at once when the pool and its queue are full; the caller answers with the
    /// throttle's refusal (`Retry-After: 1`).
    pub async fn verify(&self, password: &str, phc: String) -> Result<bool, Busy> {
        let slot = self.pool.try_reserve()?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        Ok(slot.verify(password.to_owned(), phc).await)
    }

    /// The verifications made so far.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
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
    buffers: Buffers,
    concurrency: usize,
    queue: usize,
}

/// A place in the pool: its holder may verify passwords, one after another.
#[derive(Debug)]
pub struct PoolSlot {
    _admitted: OwnedSemaphorePermit,
    running: Arc<Semaphore>,
    buffers: Buffers,
}

impl PasswordPool {
    /// A pool running `concurrency` verifications at once (at least 1) with `queue` more
    /// waiting.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            admitted: Arc::new(Semaphore::new(concurrency.saturating_add(queue))),
            running: Arc::new(Semaphore::new(concurrency)),
            buffers: Arc::default(),
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
            buffers: self.buffers.clone(),
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
        let mut memory = self
            .buffers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        let outcome = tokio::task::spawn_blocking(move || {
            let verified = verify_with_memory(&password, &phc, &mut memory);
            (verified, memory)
        })
        .await;
        match outcome {
            Ok((verified, memory)) => {
                self.buffers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(memory);
                verified
            }
            Err(_) => false,
        }
    }
}

/// Verifies a password against a PHC string in `memory` (grown as needed, never shrunk); an
/// unparseable hash, or one asking for more than [`MAX_VERIFY_MEMORY_KIB`], verifies nothing.
pub fn verify_with_memory(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    if params.m_cost() > MAX_VERIFY_MEMORY_KIB {
        return false;
    }
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut output = vec![0u8; expected.len()];
    let hasher = Argon2::new(algorithm, version, params);
    if hasher
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut output,
            &mut memory[..blocks],
        )
        .is_err()
    {
        return false;
    }
    output.ct_eq(expected.as_bytes()).into()
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

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    #[test]
    fn reused_memory_verifies_like_argon2_itself() {
        let params = PasswordHashing {
            memory_kib: 64,
            iterations: 2,
            parallelism: 2,
        };
        let phc = hasher(params)
            .hash_password(
                b"right-password",
                &SaltString::generate(&mut rand::rngs::OsRng),
            )
            .map(|h| h.to_string())
            .expect("hash");
        let mut memory = Vec::new();
        for _ in 0..2 {
            assert!(verify_with_memory("right-password", &phc, &mut memory));
            assert!(!verify_with_memory("wrong-password", &phc, &mut memory));
            assert!(
                Argon2::default()
                    .verify_password(b"right-password", &PasswordHash::new(&phc).expect("phc"))
                    .is_ok()
            );
        }
        assert_eq!(memory.len(), 64);
        assert!(!verify_with_memory(
            "right-password",
            "not a hash",
            &mut memory
        ));
        let greedy = phc.replace("m=64", &format!("m={}", MAX_VERIFY_MEMORY_KIB + 1));
        assert!(!verify_with_memory("right-password", &greedy, &mut memory));
    }
}

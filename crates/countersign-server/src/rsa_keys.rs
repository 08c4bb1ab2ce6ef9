//! RSA keys of the JWT Grant (SPEC §12): reading an uploaded public key (PKCS#1 or SPKI PEM,
//! 2048 to 4096 bits; a private key is refused unread, never stored), generating a key pair
//! whose private half is shown once, and the verification key of a stored public key. Keys are
//! stored as SPKI PEM with the SHA-256 fingerprint of their DER.

use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPrivateKey, LineEnding};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Bits of a generated key.
pub const GENERATED_BITS: usize = 2048;
/// Smallest modulus accepted, in bits.
pub const MIN_BITS: usize = 2048;
/// Largest modulus accepted, in bits.
pub const MAX_BITS: usize = 4096;
/// Longest PEM text read.
pub const MAX_PEM_LEN: usize = 16 * 1024;

/// A public key ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// SPKI PEM.
    pub pem: String,
    /// SHA-256 of the SPKI DER, lower-case hex.
    pub fingerprint: String,
}

/// Why an uploaded key is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is a private key: it is not read and not stored.
    #[error(
        "this is a private key; upload the public key only (the private key never leaves the integration)"
    )]
    PrivateKey,
    /// The text is not an RSA public key in PEM.
    #[error(
        "public_key_pem must be an RSA public key in PEM (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)"
    )]
    Unreadable,
    /// The key is shorter than 2048 or longer than 4096 bits.
    #[error("the RSA key must have 2048 to 4096 bits")]
    Size,
}

fn stored(key: &RsaPublicKey) -> Result<PublicKey, KeyError> {
    let bits = key.size() * 8;
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(KeyError::Size);
    }
    let der = key.to_public_key_der().map_err(|_| KeyError::Unreadable)?;
    let pem = key
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| KeyError::Unreadable)?;
    Ok(PublicKey {
        pem,
        fingerprint: hex::encode(Sha256::digest(der.as_bytes())),
    })
}

/// Reads an uploaded public key.
///
/// # Errors
/// Why it is refused; see [`KeyError`].
pub fn parse_public_key(text: &str) -> Result<PublicKey, KeyError> {
    let text = text.trim();
    if text.contains("PRIVATE KEY") {
        return Err(KeyError::PrivateKey);
    }
    if text.is_empty() || text.len() > MAX_PEM_LEN {
        return Err(KeyError::Unreadable);
    }
    let key = RsaPublicKey::from_public_key_pem(text)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(text))
        .map_err(|_| KeyError::Unreadable)?;
    stored(&key)
}

/// Generates a key pair from the OS CSPRNG: the public key to store and the private key in
/// PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`, as DocuSign hands them out), to show once.
///
/// # Errors
/// `Unreadable` if the key could not be encoded (not expected).
pub fn generate() -> Result<(PublicKey, Zeroizing<String>), KeyError> {
    let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, GENERATED_BITS)
        .map_err(|_| KeyError::Unreadable)?;
    let public = stored(&private.to_public_key())?;
    let pem = private
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|_| KeyError::Unreadable)?;
    Ok((public, pem))
}

/// The verification key of a stored public key; `None` for a stored text that does not read
/// (never expected: it was checked when stored).
pub fn decoding_key(pem: &str) -> Option<jsonwebtoken::DecodingKey> {
    let key = RsaPublicKey::from_public_key_pem(pem).ok()?;
    Some(jsonwebtoken::DecodingKey::from_rsa_raw_components(
        &key.n().to_bytes_be(),
        &key.e().to_bytes_be(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::EncodeRsaPublicKey;

    #[test]
    fn a_generated_pair_reads_back_and_a_private_key_is_refused() {
        let (public, private) = generate().expect("generate");
        assert!(private.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert_eq!(parse_public_key(&public.pem), Ok(public.clone()));
        assert_eq!(parse_public_key(&private), Err(KeyError::PrivateKey));
        assert!(decoding_key(&public.pem).is_some());
        let pkcs1 = RsaPublicKey::from_public_key_pem(&public.pem)
            .expect("spki")
            .to_pkcs1_pem(LineEnding::LF)
            .expect("pkcs1");
        assert_eq!(
            parse_public_key(&pkcs1).map(|k| k.fingerprint),
            Ok(public.fingerprint)
        );
        assert_eq!(parse_public_key("hello"), Err(KeyError::Unreadable));
    }

    #[test]
    fn a_short_key_is_refused() {
        let short = RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).expect("generate");
        let pem = short
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        assert_eq!(parse_public_key(&pem), Err(KeyError::Size));
    }
}

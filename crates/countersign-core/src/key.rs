//! The API user key format: `csk_` + 43 base62 characters (256 bits) + a 6-character CRC32
//! checksum in base62, GitHub-style, so a mistyped or truncated key is refused without a lookup.

use crate::secret::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix every key starts with.
pub const KEY_PREFIX: &str = "csk_";
/// Length of the random body in base62 characters (62^43 > 2^256).
pub const BODY_LEN: usize = 43;
/// Length of the checksum in base62 characters (62^6 > 2^32).
pub const CHECKSUM_LEN: usize = 6;
/// Total length of a key.
pub const KEY_LEN: usize = KEY_PREFIX.len() + BODY_LEN + CHECKSUM_LEN;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a string is not a well-formed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    /// The `csk_` prefix is missing.
    #[error("key does not start with csk_")]
    Prefix,
    /// The key is too short or too long.
    #[error("key has the wrong length")]
    Length,
    /// A character outside base62 was found.
    #[error("key contains a character outside base62")]
    Alphabet,
    /// The checksum does not match the body.
    #[error("key checksum does not match")]
    Checksum,
}

/// A well-formed API user key. Holding one means prefix, length, alphabet and checksum are valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey(Secret);

impl ApiKey {
    /// Builds a key from 256 random bits drawn by the caller from the OS CSPRNG.
    pub fn from_random(random: &[u8; 32]) -> Self {
        let body = encode_base62(random, BODY_LEN);
        let checksum = encode_base62(
            &crc32fast::hash(body.as_bytes()).to_be_bytes(),
            CHECKSUM_LEN,
        );
        Self(Secret::new(format!("{KEY_PREFIX}{body}{checksum}")))
    }

    /// Parses a key, checking its format and checksum.
    ///
    /// # Errors
    /// Returns which part of the format is wrong; never echoes the key.
    pub fn parse(text: &str) -> Result<Self, KeyFormatError> {
        let rest = text
            .strip_prefix(KEY_PREFIX)
            .ok_or(KeyFormatError::Prefix)?;
        if text.len() != KEY_LEN {
            return Err(KeyFormatError::Length);
        }
        if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyFormatError::Alphabet);
        }
        let (body, checksum) = rest.split_at(BODY_LEN);
        let expected = encode_base62(
            &crc32fast::hash(body.as_bytes()).to_be_bytes(),
            CHECKSUM_LEN,
        );
        if expected != checksum {
            return Err(KeyFormatError::Checksum);
        }
        Ok(Self(Secret::new(text)))
    }

    /// The key text; show it to its owner exactly once.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The digest stored in place of the key: HMAC-SHA256 under the server pepper, hex encoded.
    pub fn digest(&self, pepper: &[u8]) -> String {
        digest_key_text(self.0.expose(), pepper)
    }
}

/// Digests any text as a key would be digested; used for dummy work on unknown usernames.
pub fn digest_key_text(text: &str, pepper: &[u8]) -> String {
    #[expect(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    let mut mac = Hmac::<Sha256>::new_from_slice(pepper).expect("hmac takes any key length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Encodes a big-endian number as exactly `width` base62 digits (most significant first).
pub(crate) fn encode_base62(bytes: &[u8], width: usize) -> String {
    let mut number = bytes.to_vec();
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        let mut remainder: u32 = 0;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 62) as u8;
            remainder = value % 62;
        }
        *slot = ALPHABET[remainder as usize];
    }
    String::from_utf8_lossy(&digits).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_key_has_the_documented_shape() {
        let key = ApiKey::from_random(&[0xab; 32]);
        assert!(key.expose().starts_with("csk_"));
        assert_eq!(key.expose().len(), KEY_LEN);
        assert_eq!(ApiKey::parse(key.expose()), Ok(key.clone()));
    }

    #[test]
    fn extreme_values_encode_at_full_width() {
        assert_eq!(ApiKey::from_random(&[0; 32]).expose().len(), KEY_LEN);
        assert_eq!(ApiKey::from_random(&[0xff; 32]).expose().len(), KEY_LEN);
        assert_ne!(
            ApiKey::from_random(&[0; 32]).expose(),
            ApiKey::from_random(&[1; 32]).expose()
        );
    }

    #[test]
    fn malformed_keys_are_refused_by_kind() {
        let key = ApiKey::from_random(&[7; 32]);
        let text = key.expose();
        assert_eq!(ApiKey::parse(&text[1..]), Err(KeyFormatError::Prefix));
        assert_eq!(
            ApiKey::parse(&text[..text.len() - 1]),
            Err(KeyFormatError::Length)
        );
        let mut bad = text.to_owned();
        bad.replace_range(10..11, "+");
        assert_eq!(ApiKey::parse(&bad), Err(KeyFormatError::Alphabet));
    }

    #[test]
    fn digest_depends_on_pepper_and_key() {
        let key = ApiKey::from_random(&[9; 32]);
        assert_ne!(key.digest(b"a"), key.digest(b"b"));
        assert_eq!(key.digest(b"a").len(), 64);
    }

    proptest! {
        #[test]
        fn checksum_catches_any_single_character_change(
            random in proptest::array::uniform32(any::<u8>()),
            position in 4usize..KEY_LEN,
            replacement in 0usize..62,
        ) {
            let key = ApiKey::from_random(&random);
            let mut bytes = key.expose().as_bytes().to_vec();
            let new = ALPHABET[replacement];
            prop_assume!(bytes[position] != new);
            bytes[position] = new;
            let changed = String::from_utf8(bytes).expect("ascii");
            prop_assert!(ApiKey::parse(&changed).is_err());
        }

        #[test]
        fn every_generated_key_parses(random in proptest::array::uniform32(any::<u8>())) {
            let key = ApiKey::from_random(&random);
            prop_assert_eq!(ApiKey::parse(key.expose()), Ok(key.clone()));
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,80}") {
            let _ = ApiKey::parse(&text);
        }
    }
}

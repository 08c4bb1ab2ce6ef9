//! The envelope shared by session tokens and OAuth access tokens: a version byte, the signing
//! key id and a fixed-size payload, authenticated with HMAC-SHA256 under a server signing key
//! and rendered as a prefix + base64url. Each kind of token lays out its own fields (and its own
//! version byte, so neither can pass as the other); this module writes, signs, checks and reads.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// Why a token was refused. Callers answer all of them the same way on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this format.
    #[error("malformed token")]
    Malformed,
    /// Signed with a key this server does not know.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
    /// The token has expired.
    #[error("token expired")]
    Expired,
}

/// Length of the HMAC-SHA256 tag.
pub(crate) const MAC_LEN: usize = 32;
/// Room for the longest payload and its tag.
const MAX_RAW: usize = 128;
/// Where the fields after the version byte and the key id begin.
pub(crate) const FIELDS_AT: usize = 1 + 4;

/// A payload being written: the version byte and key id first, then the token's fields.
pub(crate) struct Writer {
    buffer: Vec<u8>,
}

impl Writer {
    /// Starts a payload of a token version, to be signed under key `kid`.
    pub(crate) fn new(version: u8, kid: u32) -> Self {
        let mut buffer = Vec::with_capacity(MAX_RAW);
        buffer.push(version);
        buffer.extend_from_slice(&kid.to_be_bytes());
        Self { buffer }
    }

    /// Appends an id.
    pub(crate) fn uuid(&mut self, id: Uuid) -> &mut Self {
        self.buffer.extend_from_slice(id.as_bytes());
        self
    }

    /// Appends one byte.
    pub(crate) fn byte(&mut self, byte: u8) -> &mut Self {
        self.buffer.push(byte);
        self
    }

    /// Appends a signed integer (big-endian).
    pub(crate) fn int(&mut self, value: i64) -> &mut Self {
        self.buffer.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Signs the payload under `secret` and renders `prefix` + base64url.
    pub(crate) fn sign(mut self, prefix: &str, secret: &[u8]) -> String {
        let tag = hmac(secret).chain_update(&self.buffer).finalize();
        self.buffer.extend_from_slice(&tag.into_bytes());
        let mut text = String::with_capacity(prefix.len() + (self.buffer.len() * 4).div_ceil(3));
        text.push_str(prefix);
        URL_SAFE_NO_PAD.encode_string(&self.buffer, &mut text);
        text
    }
}

/// The fields of a token whose signature was checked, read at their byte offsets.
pub(crate) struct Fields {
    raw: [u8; MAX_RAW],
}

impl Fields {
    /// The id at `offset`.
    pub(crate) fn uuid(&self, offset: usize) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&self.raw[offset..offset + 16]);
        Uuid::from_bytes(bytes)
    }

    /// The integer at `offset`.
    pub(crate) fn int(&self, offset: usize) -> i64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.raw[offset..offset + 8]);
        i64::from_be_bytes(bytes)
    }

    /// The byte at `offset`.
    pub(crate) fn byte(&self, offset: usize) -> u8 {
        self.raw[offset]
    }
}

/// Checks a token's shape (`prefix`, at most `max_len` characters, exactly `payload_len` bytes
/// of payload starting with `version`) and its signature under the key its payload names.
///
/// # Errors
/// `Malformed` for any shape but the expected one, `UnknownKey` when `secret_for` does not know
/// the key id, `BadSignature` when the tag does not match.
pub(crate) fn open<'a>(
    token: &str,
    prefix: &str,
    max_len: usize,
    version: u8,
    payload_len: usize,
    secret_for: impl FnOnce(u32) -> Option<&'a [u8]>,
) -> Result<Fields, TokenError> {
    if token.len() > max_len {
        return Err(TokenError::Malformed);
    }
    let body = token.strip_prefix(prefix).ok_or(TokenError::Malformed)?;
    let mut raw = [0u8; MAX_RAW];
    let decoded = URL_SAFE_NO_PAD
        .decode_slice(body.as_bytes(), &mut raw)
        .map_err(|_| TokenError::Malformed)?;
    if decoded != payload_len + MAC_LEN || raw[0] != version {
        return Err(TokenError::Malformed);
    }
    let (payload, rest) = raw.split_at(payload_len);
    let kid = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
    let secret = secret_for(kid).ok_or(TokenError::UnknownKey)?;
    hmac(secret)
        .chain_update(payload)
        .verify_slice(&rest[..MAC_LEN])
        .map_err(|_| TokenError::BadSignature)?;
    Ok(Fields { raw })
}

fn hmac(secret: &[u8]) -> Hmac<Sha256> {
    #[expect(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes any key length")
}

/// `token` with the character at `position` replaced by the `replacement`-th character of the
/// URL-safe base64 alphabet; `None` when that changes nothing (or `position` is past the end).
/// The tampering property of every token kind is written with it.
#[cfg(test)]
pub(crate) fn tampered(token: &str, position: usize, replacement: u8) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let new = *ALPHABET.get(usize::from(replacement))?;
    let mut bytes = token.as_bytes().to_vec();
    let old = bytes.get_mut(position)?;
    if *old == new {
        return None;
    }
    *old = new;
    String::from_utf8(bytes).ok()
}

//! Webhook signing secrets at rest: the server must sign with a secret, so it cannot keep only
//! a digest. Each secret is sealed with ChaCha20-Poly1305 (ring) under the server's webhook
//! sealing key (derived from the master key when one is configured, so a database dump then
//! holds no usable secret; otherwise generated and stored like the other server secrets), with
//! a random 96-bit nonce and the webhook's id as associated data, so a sealed value copied to
//! another row does not open.

use crate::secrets::random_bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

const VERSION: &str = "v1.";

fn key(sealing_key: &[u8]) -> Option<LessSafeKey> {
    UnboundKey::new(&CHACHA20_POLY1305, sealing_key)
        .ok()
        .map(LessSafeKey::new)
}

/// Seals `secret` for the row `webhook_id`; `None` when the sealing key is unusable.
pub fn seal(sealing_key: &[u8], webhook_id: &str, secret: &[u8]) -> Option<String> {
    let key = key(sealing_key)?;
    let nonce_bytes = random_bytes::<NONCE_LEN>();
    let mut in_out = secret.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(webhook_id.as_bytes()),
        &mut in_out,
    )
    .ok()?;
    let mut sealed = nonce_bytes.to_vec();
    sealed.extend_from_slice(&in_out);
    Some(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(sealed)))
}

/// Opens a sealed secret of the row `webhook_id`; `None` when it was not sealed for that row
/// under this key (or is damaged).
pub fn open(sealing_key: &[u8], webhook_id: &str, sealed: &str) -> Option<Vec<u8>> {
    let key = key(sealing_key)?;
    let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(VERSION)?).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut in_out = ciphertext.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(webhook_id.as_bytes()), &mut in_out)
        .ok()?;
    Some(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_row_and_key() {
        let key = [7u8; 32];
        let sealed = seal(&key, "row-1", b"secret bytes").expect("sealed");
        assert!(!sealed.contains("secret"));
        assert_eq!(
            open(&key, "row-1", &sealed).as_deref(),
            Some(&b"secret bytes"[..])
        );
        assert_eq!(open(&key, "row-2", &sealed), None);
        assert_eq!(open(&[8u8; 32], "row-1", &sealed), None);
        assert_eq!(open(&key, "row-1", "v1.AAAA"), None);
        assert_ne!(
            seal(&key, "row-1", b"x"),
            seal(&key, "row-1", b"x"),
            "fresh nonce"
        );
    }
}

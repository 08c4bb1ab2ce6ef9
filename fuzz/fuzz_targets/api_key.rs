//! API key format: `countersign_core::key::ApiKey::parse` on arbitrary text and
//! `ApiKey::from_random` on arbitrary 32 bytes.
//!
//! Invariants: anything that parses re-serialises identically through `expose()`, has the
//! documented shape and length; every generated key parses back to itself; any single-character
//! change of a generated key is refused; digests are 64 hex characters.
#![no_main]

use countersign_core::key::{ApiKey, KEY_LEN, KEY_PREFIX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(key) = ApiKey::parse(&text) {
        assert_eq!(key.expose(), &*text, "parse does not round-trip");
        assert_eq!(key.expose().len(), KEY_LEN);
        assert!(key.expose().starts_with(KEY_PREFIX));
        assert!(key.expose()[KEY_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(!format!("{key:?}").contains(key.expose()), "Debug shows the key");
    }

    let mut random = [0u8; 32];
    let n = data.len().min(32);
    random[..n].copy_from_slice(&data[..n]);
    let generated = ApiKey::from_random(&random);
    assert_eq!(generated.expose().len(), KEY_LEN);
    assert_eq!(ApiKey::parse(generated.expose()), Ok(generated.clone()));
    let digest = generated.digest(b"pepper");
    assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()));

    // Change one character (position and replacement from the input) and expect a refusal.
    if data.len() > 33 {
        let position = KEY_PREFIX.len() + usize::from(data[32]) % (KEY_LEN - KEY_PREFIX.len());
        let replacement = data[33];
        let mut bytes = generated.expose().as_bytes().to_vec();
        if replacement.is_ascii() && bytes[position] != replacement {
            bytes[position] = replacement;
            let changed = String::from_utf8(bytes).expect("ascii");
            assert!(ApiKey::parse(&changed).is_err(), "{changed:?} accepted");
        }
    }
});

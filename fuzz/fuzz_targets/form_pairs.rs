//! Form text (query strings and urlencoded bodies): `countersign_core::form::pairs` and
//! `form::decode` on arbitrary text.
//!
//! Invariants: what is read re-encodes (`form::encode`) to text that reads back to the same pairs; no pair has an
//! empty name; refused text has a part that is empty or does not decode (checked part by part);
//! at most `max` pairs are ever returned.
#![no_main]

use countersign_core::form::{decode, encode, pairs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match pairs(text, 16) {
        Ok(read) => {
            assert!(read.len() <= 16);
            assert!(read.iter().all(|(name, _)| !name.is_empty()));
            let again = read
                .iter()
                .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            assert_eq!(pairs(&again, 16).as_ref(), Ok(&read), "{again:?}");
        }
        Err(_) => {
            let parts: Vec<&str> = text.split('&').collect();
            let broken = parts.len() > 16
                || parts.iter().any(|part| {
                    let (name, value) = part.split_once('=').unwrap_or((part, ""));
                    name.is_empty() || decode(name).is_none() || decode(value).is_none()
                });
            assert!(broken, "{text:?} refused with every part readable");
        }
    }
});

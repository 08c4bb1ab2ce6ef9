//! `X-AS-UserContext`: `countersign_core::access::parse_user_context` on arbitrary text (the
//! original URI has its own target, `original_uri`).
//!
//! Invariants: the username is trimmed and holds no `:`; a context id, when present, is non-empty
//! and trimmed; without a `:` the username is the whole trimmed value; parsing is deterministic.
#![no_main]

use countersign_core::access::parse_user_context;
use countersign_core::ids::AccountId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let raw: &str = &text;

    let context = parse_user_context(raw);
    assert_eq!(context, parse_user_context(raw), "not deterministic");
    assert_eq!(context.username, context.username.trim());
    assert!(!context.username.contains(':'), "username kept a colon: {context:?}");
    match &context.context_id {
        Some(id) => {
            assert!(!id.is_empty());
            assert_eq!(id, id.trim());
            assert!(raw.contains(':'));
        }
        None => {
            if let Some((_, after)) = raw.split_once(':') {
                assert!(after.trim().is_empty(), "context id lost: {raw:?}");
            }
        }
    }
    if !raw.contains(':') {
        assert_eq!(context.username, raw.trim());
    }
    if let Some(id) = &context.context_id {
        // The server parses the context id as an account id; that must never panic either.
        let _ = AccountId::parse(id);
    }
});

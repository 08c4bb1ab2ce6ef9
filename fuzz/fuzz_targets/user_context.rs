//! `X-AS-UserContext` and the account in a request path:
//! `countersign_core::access::parse_user_context` and `account_in_path` on arbitrary text.
//!
//! Invariants: the username is trimmed and holds no `:`; a context id, when present, is non-empty
//! and trimmed; without a `:` the username is the whole trimmed value; parsing is deterministic.
//! An account number found in a path is 1–32 ASCII digits, an account id re-parses from its
//! canonical form, and nothing is found in a path that cannot name an `accounts` segment.
#![no_main]

use countersign_core::access::{AccountRef, account_in_path, parse_user_context};
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

    let found = account_in_path(raw);
    assert_eq!(found, account_in_path(raw), "not deterministic");
    match &found {
        Some(AccountRef::Number(number)) => {
            assert!(!number.is_empty() && number.len() <= 32, "{number:?}");
            assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number:?}");
        }
        Some(AccountRef::Id(id)) => {
            assert_eq!(AccountId::parse(&id.to_string()), Some(*id));
        }
        Some(AccountRef::Invalid) | None => {}
    }
    if found.is_some() {
        let lower = raw.to_ascii_lowercase();
        assert!(
            lower.contains("accounts") || lower.contains('%'),
            "account found in a path without an accounts segment: {raw:?}"
        );
    }
});

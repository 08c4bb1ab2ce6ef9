//! `X-DocuSign-Authentication`: `countersign_core::legacy::parse_header` on arbitrary bytes.
//!
//! Invariants checked on every accepted header:
//! - username, password and integrator key are non-empty, trimmed of ASCII whitespace and at most
//!   `MAX_FIELD_LEN` bytes; send-on-behalf-of, when present, is the same;
//! - parsing is deterministic;
//! - the password never shows in `Debug`;
//! - `build_header(parse(x))` in both forms parses back to the same credentials (or, when the
//!   escaped form outgrows `MAX_HEADER_LEN`, is refused as too long; the XML form cannot carry
//!   NUL and is skipped for it).
//! Refused input: anything over `MAX_HEADER_LEN` bytes is `TooLong`.
#![no_main]

use countersign_core::legacy::{
    HeaderFormat, LegacyCredentials, LegacyHeaderError, MAX_FIELD_LEN, MAX_HEADER_LEN,
    build_header, parse_header,
};
use libfuzzer_sys::fuzz_target;

fn check_field(name: &str, value: &str) {
    assert!(!value.is_empty(), "{name} is empty");
    assert_eq!(value, value.trim_ascii(), "{name} is not trimmed");
    assert!(value.len() <= MAX_FIELD_LEN, "{name} is {} bytes", value.len());
}

fn round_trip(format: HeaderFormat, credentials: &LegacyCredentials) {
    let built = build_header(
        format,
        &credentials.username,
        credentials.password.expose(),
        &credentials.integrator_key,
        credentials.send_on_behalf_of.as_deref(),
    );
    assert!(
        !built.contains(['\r', '\n', '\0', '\u{7f}']),
        "{format:?} header is not a single clean line: {built:?}"
    );
    let reparsed = parse_header(built.as_bytes());
    if built.len() > MAX_HEADER_LEN {
        assert_eq!(reparsed, Err(LegacyHeaderError::TooLong), "{format:?}: {built:?}");
    } else {
        assert_eq!(
            reparsed.as_ref(),
            Ok(credentials),
            "{format:?} round trip changed the credentials; built {built:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse_header(data);
    assert_eq!(parsed, parse_header(data), "parsing is not deterministic");
    if data.len() > MAX_HEADER_LEN {
        assert_eq!(parsed, Err(LegacyHeaderError::TooLong));
        return;
    }
    let Ok(credentials) = parsed else { return };

    check_field("username", &credentials.username);
    check_field("password", credentials.password.expose());
    check_field("integrator key", &credentials.integrator_key);
    if let Some(sobo) = &credentials.send_on_behalf_of {
        check_field("send-on-behalf-of", sobo);
    }
    assert_eq!(format!("{:?}", credentials.password), "Secret([redacted])");

    round_trip(HeaderFormat::Json, &credentials);
    let has_nul = [
        credentials.username.as_str(),
        credentials.password.expose(),
        credentials.integrator_key.as_str(),
        credentials.send_on_behalf_of.as_deref().unwrap_or_default(),
    ]
    .iter()
    .any(|value| value.contains('\0'));
    if !has_nul {
        round_trip(HeaderFormat::Xml, &credentials);
    }
});

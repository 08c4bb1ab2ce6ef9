//! `X-DocuSign-Authentication` builder: `countersign_core::legacy::build_header` on arbitrary
//! values, then `parse_header` on the result.
//!
//! The input is split on `\u{1}` into username, password, integrator key and an optional
//! send-on-behalf-of user; the first byte's low bit picks the form (JSON or XML). Whatever the
//! values, the built header is one line, and it parses back to the trimmed values unless a
//! documented limit applies (an empty required value, a value over `MAX_FIELD_LEN`, a header over
//! `MAX_HEADER_LEN`, a NUL: the XML form cannot carry it and the parser refuses it in both).
#![no_main]

use countersign_core::legacy::{
    HeaderFormat, LegacyHeaderError, MAX_FIELD_LEN, MAX_HEADER_LEN, build_header, parse_header,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let format = if selector & 1 == 0 { HeaderFormat::Json } else { HeaderFormat::Xml };
    let mut parts = text.split('\u{1}');
    let username = parts.next().unwrap_or_default();
    let password = parts.next().unwrap_or_default();
    let integrator_key = parts.next().unwrap_or_default();
    let send_on_behalf_of = parts.next();

    let built = build_header(format, username, password, integrator_key, send_on_behalf_of);
    assert!(
        !built.contains(['\r', '\n', '\u{7f}']),
        "{format:?} header is not a single line: {built:?}"
    );
    let parsed = parse_header(built.as_bytes());

    let values = [username, password, integrator_key, send_on_behalf_of.unwrap_or_default()];
    if values.iter().any(|v| v.contains('\0')) {
        // Documented: the XML form cannot carry a NUL, and the parser refuses one in both.
        assert!(parsed.is_err(), "a NUL was accepted: {built:?}");
        return;
    }
    if built.len() > MAX_HEADER_LEN {
        assert_eq!(parsed, Err(LegacyHeaderError::TooLong));
        return;
    }
    if values.iter().any(|v| v.trim_ascii().len() > MAX_FIELD_LEN) {
        assert_eq!(parsed, Err(LegacyHeaderError::TooLong));
        return;
    }
    if integrator_key.trim_ascii().is_empty() {
        assert_eq!(parsed, Err(LegacyHeaderError::MissingIntegratorKey));
        return;
    }
    if username.trim_ascii().is_empty() || password.trim_ascii().is_empty() {
        assert_eq!(parsed, Err(LegacyHeaderError::MissingCredentials));
        return;
    }
    let credentials = match parsed {
        Ok(credentials) => credentials,
        Err(error) => panic!("{format:?} header built from valid values refused ({error:?}): {built:?}"),
    };
    assert_eq!(credentials.username, username.trim_ascii());
    assert_eq!(credentials.password.expose(), password.trim_ascii());
    assert_eq!(credentials.integrator_key, integrator_key.trim_ascii());
    assert_eq!(
        credentials.send_on_behalf_of.as_deref(),
        send_on_behalf_of.map(str::trim_ascii).filter(|s| !s.is_empty())
    );
});

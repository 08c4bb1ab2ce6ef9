//! `application/x-www-form-urlencoded` text, read strictly: query strings and form bodies of
//! every surface go through [`pairs`], so a parameter that does not decode is refused in one
//! place rather than read as something else. What a browser, an OAuth client or a DocuSign SDK
//! sends always passes; what it never sends (a broken escape, bytes that are not UTF-8 after
//! decoding, an empty segment or name) is [`Unreadable`].

/// Form text that cannot be read as its sender meant it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreadable;

/// Decodes one component: `+` is a space, `%XX` a byte (two hex digits); the bytes must be
/// UTF-8 without NUL (no client means one, and no text column can keep it). `None` for a broken
/// escape, a NUL, or bytes that are not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex_digit(*bytes.get(i + 1)?)?;
                let low = hex_digit(*bytes.get(i + 2)?)?;
                out.push(high << 4 | low);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// Encodes one component as a form-urlencoding client does: every byte but the unreserved
/// ones (RFC 3986 §2.3) as `%XX`, a space as `+`. [`decode`] reads it back.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else if b == b' ' {
                "+".to_owned()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

/// The decoded `(name, value)` pairs of `text`, in order; a part without `=` has the empty
/// value. The empty text has none.
///
/// # Errors
/// `Unreadable` for a part that does not decode, an empty part (`a=1&&b=2`, a trailing `&`),
/// an empty name, or more than `max` parts.
pub fn pairs(text: &str, max: usize) -> Result<Vec<(String, String)>, Unreadable> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut pairs = Vec::new();
    for part in text.split('&') {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        if name.is_empty() || pairs.len() >= max {
            return Err(Unreadable);
        }
        pairs.push((
            decode(name).ok_or(Unreadable)?,
            decode(value).ok_or(Unreadable)?,
        ));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decoding_handles_escapes_and_refuses_broken_ones() {
        assert_eq!(decode("a+b%20c%2B%25").as_deref(), Some("a b c+%"));
        assert_eq!(decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode("%c3%a9").as_deref(), Some("é"));
        assert_eq!(decode("a%0D%0Ab").as_deref(), Some("a\r\nb"));
        for broken in [
            "%", "%4", "%g0", "%FF", "%+1", "%-1", "a%2", "%C3", "%00", "a\0b",
        ] {
            assert_eq!(decode(broken), None, "{broken}");
        }
    }

    #[test]
    fn pairs_keep_order_repeats_and_empty_values() {
        let expected = [("a", "1"), ("b", ""), ("a", "x y"), ("c", "")];
        assert_eq!(
            pairs("a=1&b&a=x+y&c=", 8),
            Ok(expected.map(|(n, v)| (n.to_owned(), v.to_owned())).to_vec())
        );
        assert_eq!(pairs("", 8), Ok(Vec::new()));
    }

    #[test]
    fn pairs_refuse_what_no_client_sends() {
        for text in [
            "a=1&&b=2", "a=1&", "&a=1", "=1", "a=%FF", "a%zz=1", "a=%E2%82",
        ] {
            assert_eq!(pairs(text, 8), Err(Unreadable), "{text}");
        }
        assert_eq!(pairs("a&b&c", 2), Err(Unreadable));
        assert!(pairs("a&b", 2).is_ok());
    }

    proptest! {
        #[test]
        fn encoded_pairs_read_back_as_sent(
            sent in proptest::collection::vec(("\\PC{1,20}", "\\PC{0,20}"), 0..6),
        ) {
            let text = sent
                .iter()
                .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            prop_assert_eq!(pairs(&text, 8), Ok(sent));
        }

        #[test]
        fn reading_never_panics(text in "\\PC{0,200}") {
            let _ = pairs(&text, 8);
            let _ = decode(&text);
        }
    }
}

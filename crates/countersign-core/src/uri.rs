//! The original request URI a proxy reports, read fail-closed (SPEC §3): which accounts it
//! names, or why it cannot be read safely.
//!
//! A proxy, a framework and an upstream each read a path their own way: one decodes `%2F`, one
//! merges `//`, one removes `..` and `;params`. An account check that reads the path one way
//! while the upstream reads it another is a way around it. So the URI is read in every way that
//! matters — as sent, percent-decoded with dot segments removed (RFC 3986 §5.2.4), and the
//! same with empty segments merged, with `;params` stripped for matching — and every
//! `accounts/{id}` pair in any reading must name an account the user may use. What cannot be
//! read unambiguously (not UTF-8, an encoded separator, an empty account segment, a dot segment
//! above the root, a malformed escape) is refused, never read as "no account".

use crate::directory::Membership;
use crate::ids::AccountId;

/// An account named in a request path, by UUID or by numeric number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountRef {
    /// The account context identifier.
    Id(AccountId),
    /// The numeric DocuSign account id.
    Number(String),
    /// Something that is neither; it can never name an available account.
    Invalid,
}

impl AccountRef {
    /// Classifies a path segment.
    pub fn parse(segment: &str) -> Self {
        if !segment.is_empty() && segment.len() <= 32 && segment.bytes().all(|b| b.is_ascii_digit())
        {
            Self::Number(segment.to_owned())
        } else if let Some(id) = AccountId::parse(segment) {
            Self::Id(id)
        } else {
            Self::Invalid
        }
    }

    /// Whether the reference names this membership's account.
    pub fn names(&self, membership: &Membership) -> bool {
        match self {
            Self::Id(id) => membership.account_id == *id,
            Self::Number(number) => membership.account_number == *number,
            Self::Invalid => false,
        }
    }
}

/// Longest original URI accepted, in bytes.
pub const MAX_URI_LEN: usize = 8192;

/// Why an original URI was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UriRefusal {
    /// The URI is longer than [`MAX_URI_LEN`].
    #[error("the original URI is too long")]
    TooLong,
    /// The URI, raw or percent-decoded, is not valid UTF-8.
    #[error("the original URI is not valid UTF-8")]
    NotUtf8,
    /// The URI is empty or its path is not absolute.
    #[error("the original URI has no absolute path")]
    NotAbsolutePath,
    /// A `%` not followed by two hex digits.
    #[error("the original URI holds a malformed percent escape")]
    MalformedEscape,
    /// An encoded `/`, `\` or NUL (`%2F`, `%5C`, `%00`).
    #[error("the original URI holds an encoded separator or NUL")]
    EncodedSeparator,
    /// A backslash or a control character in the path, raw or decoded.
    #[error("the original URI holds a backslash or a control character")]
    ForbiddenCharacter,
    /// An `accounts` segment followed by an empty one (`accounts//…`, `accounts/`).
    #[error("an accounts segment is followed by an empty segment")]
    EmptyAccountSegment,
    /// A `..` segment that would climb above the root.
    #[error("a dot segment climbs above the root")]
    ClimbsAboveRoot,
    /// Several original-URI headers disagree.
    #[error("the original-URI headers disagree")]
    ConflictingHeaders,
    /// An original-URI header was sent more than once.
    #[error("an original-URI header was sent more than once")]
    RepeatedHeader,
    /// The configuration names the one original-URI header to trust, and the request has none.
    #[error("the trusted original-URI header is missing")]
    TrustedHeaderMissing,
}

/// What a request's original URI says about accounts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PathAccounts {
    /// No original URI, or one naming no account.
    #[default]
    None,
    /// Every account the URI names, in any reading, without repeats; the first is the one the
    /// URI names first as sent.
    Named(Vec<AccountRef>),
    /// The URI cannot be read safely; the request is refused.
    Refused(UriRefusal),
}

impl PathAccounts {
    /// Reads an original URI (origin-form `/path?query`, or absolute-form
    /// `http://host/path`) as sent by the proxy.
    pub fn from_original_uri(raw: &[u8]) -> Self {
        match named_accounts(raw) {
            Ok(accounts) if accounts.is_empty() => Self::None,
            Ok(accounts) => Self::Named(accounts),
            Err(refusal) => Self::Refused(refusal),
        }
    }

    /// The accounts named, empty when none (or when refused).
    pub fn accounts(&self) -> &[AccountRef] {
        match self {
            Self::Named(accounts) => accounts,
            Self::None | Self::Refused(_) => &[],
        }
    }
}

fn named_accounts(raw: &[u8]) -> Result<Vec<AccountRef>, UriRefusal> {
    if raw.len() > MAX_URI_LEN {
        return Err(UriRefusal::TooLong);
    }
    let text = std::str::from_utf8(raw).map_err(|_| UriRefusal::NotUtf8)?;
    let text = strip_scheme_and_authority(text);
    let end = text.find(['?', '#']).unwrap_or(text.len());
    let (path, rest) = text.split_at(end);
    if !path.starts_with('/') {
        return Err(UriRefusal::NotAbsolutePath);
    }
    if path.bytes().any(|b| b == b'\\' || b.is_ascii_control()) {
        return Err(UriRefusal::ForbiddenCharacter);
    }
    check_query(rest)?;
    let mut found = Vec::new();
    // As sent.
    collect_pairs(path.split('/'), &mut found)?;
    // Cheap exit: nothing to decode, no dot segment, parameter or empty segment to remove, so
    // every other reading is the one just made (a dot inside a segment, as in `v2.1`, is not a
    // dot segment).
    let plain = !path.bytes().any(|b| matches!(b, b'%' | b';'))
        && !path.contains("//")
        && !path
            .split('/')
            .any(|segment| segment == "." || segment == "..");
    if plain {
        return Ok(found);
    }
    let decoded = decode_path(path)?;
    // Decoded, dot segments removed (RFC 3986 §5.2.4); then the same with empty segments merged
    // (as nginx's `merge_slashes` does). Each with `.;x` / `..;x` as dot segments (Tomcat and
    // Jetty strip `;params` first) and, when a segment has parameters, also as ordinary segments
    // (every upstream that does not), since either may climb where the other does not. A
    // reading that cannot differ from one already made (no empty segment to merge, no `;`) is
    // not made again.
    let segments: Vec<&str> = decoded.split('/').skip(1).collect();
    let merged: Vec<&str> = segments.iter().copied().filter(|s| !s.is_empty()).collect();
    let readings: &[&Vec<&str>] = if merged.len() == segments.len() {
        &[&segments]
    } else {
        &[&segments, &merged]
    };
    let params: &[Params] = if decoded.contains(';') {
        &[Params::Stripped, Params::Kept]
    } else {
        &[Params::Stripped]
    };
    for reading in readings {
        for &params in params {
            let normalized = remove_dot_segments(reading, params)?;
            collect_pairs(std::iter::once("").chain(normalized), &mut found)?;
        }
    }
    Ok(found)
}

/// The origin-form part of an absolute-form URI (`http://host/path` → `/path`).
fn strip_scheme_and_authority(text: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if text.len() >= scheme.len()
            && text.is_char_boundary(scheme.len())
            && text[..scheme.len()].eq_ignore_ascii_case(scheme)
        {
            let after = &text[scheme.len()..];
            return match after.find(['/', '?', '#']) {
                Some(index) if after[index..].starts_with('/') => &after[index..],
                // A query or fragment without a path: not an absolute path, refused below.
                Some(index) => &after[index..],
                // Nothing after the authority: the root.
                None => "/",
            };
        }
    }
    text
}

/// The query and fragment must decode to UTF-8 without NUL; malformed escapes there are kept
/// literally (they name no path segment).
fn check_query(rest: &str) -> Result<(), UriRefusal> {
    if !rest.contains('%') {
        return Ok(());
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(value) = hex_pair(bytes, index + 1)
        {
            if value == 0 {
                return Err(UriRefusal::EncodedSeparator);
            }
            out.push(value);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    std::str::from_utf8(&out)
        .map(|_| ())
        .map_err(|_| UriRefusal::NotUtf8)
}

fn hex_pair(bytes: &[u8], at: usize) -> Option<u8> {
    let high = (*bytes.get(at)? as char).to_digit(16)?;
    let low = (*bytes.get(at + 1)? as char).to_digit(16)?;
    u8::try_from(high * 16 + low).ok()
}

/// Percent-decodes a path once, refusing what would change its segments or hide a byte.
fn decode_path(path: &str) -> Result<String, UriRefusal> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let value = hex_pair(bytes, index + 1).ok_or(UriRefusal::MalformedEscape)?;
            if matches!(value, b'/' | b'\\' | 0) {
                return Err(UriRefusal::EncodedSeparator);
            }
            if value.is_ascii_control() {
                return Err(UriRefusal::ForbiddenCharacter);
            }
            out.push(value);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UriRefusal::NotUtf8)
}

/// A segment without its `;params` (Tomcat and Jetty route `/accounts;x/…` as `/accounts/…`).
fn bare(segment: &str) -> &str {
    segment.split(';').next().unwrap_or_default()
}

/// How a reading treats `;params` when it looks for dot segments.
#[derive(Clone, Copy)]
enum Params {
    /// Stripped first: `..;x` is `..` (Tomcat, Jetty).
    Stripped,
    /// Part of the segment: `..;x` is an ordinary segment (RFC 3986, nginx, most frameworks).
    Kept,
}

/// RFC 3986 §5.2.4 on the segments after the leading `/`; a `..` at the root is refused
/// rather than dropped.
fn remove_dot_segments<'a>(
    segments: &[&'a str],
    params: Params,
) -> Result<Vec<&'a str>, UriRefusal> {
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        let dots = match params {
            Params::Stripped => bare(segment),
            Params::Kept => segment,
        };
        match dots {
            "." => {
                if index == last {
                    out.push("");
                }
            }
            ".." => {
                if out.pop().is_none() {
                    return Err(UriRefusal::ClimbsAboveRoot);
                }
                if index == last {
                    out.push("");
                }
            }
            _ => out.push(segment),
        }
    }
    Ok(out)
}

/// Adds the account of every `accounts/{id}` pair of one reading (segments from the one
/// before the leading `/`).
fn collect_pairs<'a>(
    segments: impl Iterator<Item = &'a str>,
    found: &mut Vec<AccountRef>,
) -> Result<(), UriRefusal> {
    let mut previous_was_accounts = false;
    for segment in segments {
        let name = bare(segment);
        if previous_was_accounts {
            if name.is_empty() {
                return Err(UriRefusal::EmptyAccountSegment);
            }
            let account = AccountRef::parse(name);
            if !found.contains(&account) {
                found.push(account);
            }
        }
        previous_was_accounts = name.eq_ignore_ascii_case("accounts");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn read(uri: &str) -> PathAccounts {
        PathAccounts::from_original_uri(uri.as_bytes())
    }

    fn number(n: &str) -> AccountRef {
        AccountRef::Number(n.into())
    }

    #[test]
    fn plain_paths_name_their_account() {
        let id = Uuid::from_u128(10);
        assert_eq!(
            read("/restapi/v2/accounts/1234/envelopes?x=1"),
            PathAccounts::Named(vec![number("1234")])
        );
        assert_eq!(
            read(&format!("/x/Accounts/{id}")),
            PathAccounts::Named(vec![AccountRef::Id(AccountId(id))])
        );
        assert_eq!(read("/restapi/v2/login_information"), PathAccounts::None);
        assert_eq!(read("/restapi/v2.1/accounts"), PathAccounts::None);
        assert_eq!(
            read("http://example.com/restapi/v2/accounts/77/x"),
            PathAccounts::Named(vec![number("77")])
        );
    }

    #[test]
    fn non_utf8_anywhere_is_refused() {
        let refused = PathAccounts::Refused(UriRefusal::NotUtf8);
        assert_eq!(
            PathAccounts::from_original_uri(b"/restapi/v2/accounts/1/envelopes?\xff"),
            refused
        );
        assert_eq!(read("/restapi/v2/accounts/%ff/x"), refused);
        assert_eq!(read("/restapi/v2/accounts/1/x?q=%c3"), refused);
    }

    #[test]
    fn empty_account_segments_are_refused() {
        let refused = PathAccounts::Refused(UriRefusal::EmptyAccountSegment);
        assert_eq!(read("/restapi/v2/accounts//2/envelopes"), refused);
        assert_eq!(read("/restapi/v2/accounts/"), refused);
        assert_eq!(read("/restapi/v2/accounts/;x/1"), refused);
    }

    #[test]
    fn every_pair_is_named() {
        assert_eq!(
            read("/accounts/1/x/accounts/2/y"),
            PathAccounts::Named(vec![number("1"), number("2")])
        );
    }

    #[test]
    fn dot_segments_name_where_they_lead() {
        assert_eq!(
            read("/accounts/1/envelopes/../../2/envelopes"),
            PathAccounts::Named(vec![number("1"), number("2")])
        );
        assert_eq!(
            read("/accounts/1/%2e%2e/2/x"),
            PathAccounts::Named(vec![number("1"), number("2")])
        );
        assert_eq!(
            read("/accounts/1/..;x/2/y"),
            PathAccounts::Named(vec![number("1"), number("2")])
        );
        // `//..` climbs one level more once slashes are merged.
        assert_eq!(
            read("/accounts/1/x//../../2"),
            PathAccounts::Named(vec![number("1"), number("2")])
        );
        assert_eq!(
            read("/a/../../accounts/1"),
            PathAccounts::Refused(UriRefusal::ClimbsAboveRoot)
        );
        // `.;` is a dot segment to Tomcat and an ordinary one to nginx, Go or Node: read both
        // ways, the climb reaches 2 (found by the original_uri fuzz target).
        assert_eq!(
            read("/restapi/accounts/1/x/.;/../../../2/envelopes"),
            PathAccounts::Named(vec![number("1"), number("2")])
        );
        assert_eq!(
            read("/restapi/accounts/1/..;p/../../2/envelopes"),
            PathAccounts::Named(vec![number("1"), number("2")])
        );
    }

    #[test]
    fn encoded_separators_and_escapes_are_refused() {
        let separator = PathAccounts::Refused(UriRefusal::EncodedSeparator);
        assert_eq!(read("/accounts%2F2/x"), separator);
        assert_eq!(read("/accounts%2f2/x"), separator);
        assert_eq!(read("/accounts/1%5C..%5C2"), separator);
        assert_eq!(read("/accounts/1%00/x"), separator);
        assert_eq!(read("/accounts/1/x?a=%00"), separator);
        assert_eq!(
            read("/accounts/1%zz"),
            PathAccounts::Refused(UriRefusal::MalformedEscape)
        );
        assert_eq!(
            read("/accounts\\2/x"),
            PathAccounts::Refused(UriRefusal::ForbiddenCharacter)
        );
        assert_eq!(
            read("/accounts/1%0a/x"),
            PathAccounts::Refused(UriRefusal::ForbiddenCharacter)
        );
        // An encoded slash in a query value is an ordinary query.
        assert_eq!(
            read("/accounts/1/x?next=%2Fhome"),
            PathAccounts::Named(vec![number("1")])
        );
    }

    #[test]
    fn relative_and_empty_uris_are_refused() {
        let refused = PathAccounts::Refused(UriRefusal::NotAbsolutePath);
        assert_eq!(read(""), refused);
        assert_eq!(read("accounts/1"), refused);
        assert_eq!(read("*"), refused);
        assert_eq!(read("http://example.com?accounts=1"), refused);
        assert_eq!(read("http://example.com"), PathAccounts::None);
        assert_eq!(
            PathAccounts::from_original_uri(&vec![b'/'; MAX_URI_LEN + 1]),
            PathAccounts::Refused(UriRefusal::TooLong)
        );
    }

    #[test]
    fn encoded_names_are_read_both_ways() {
        // As sent the id is `%31%32` (no account); decoded it is `12`.
        assert_eq!(
            read("/restapi/v2/accounts/%31%32/x"),
            PathAccounts::Named(vec![AccountRef::Invalid, number("12")])
        );
        assert_eq!(
            read("/restapi/v2/%61ccounts/9/x"),
            PathAccounts::Named(vec![number("9")])
        );
    }

    proptest! {
        #[test]
        fn reading_never_panics_and_is_deterministic(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let first = PathAccounts::from_original_uri(&raw);
            prop_assert_eq!(first, PathAccounts::from_original_uri(&raw));
        }

        #[test]
        fn an_account_reached_by_any_spelling_is_named(
            prefix in "[a-z]{1,8}",
            junk in "(\\.\\./|%2e%2e/|\\.;x/|/|\\./){0,4}",
        ) {
            // Whatever the path looks like, if it is not refused, its normalized form's
            // account is among those named.
            let uri = format!("/{prefix}/accounts/1/{junk}accounts/2/x");
            if let PathAccounts::Named(accounts) = read(&uri) {
                prop_assert!(accounts.contains(&number("2")));
            }
        }
    }
}

//! A request to verify, read once and fail-closed: which credential it carries, the
//! `X-AS-UserContext` it asks for, and the accounts its original URI names (SPEC §3, §6.1).
//!
//! Everything downstream — the full path, the per-thread fast path — works on this reading and
//! never looks at the headers again, so a header read one way here cannot be read another way
//! there. What is not as expected (a second copy of a header, bytes that are not text,
//! original-URI headers that disagree) becomes a refusal here, never "nothing there".

use axum::http::{HeaderMap, HeaderName, header};
use countersign_core::access::{self, MAX_USER_CONTEXT_LEN, UserContext};
use countersign_core::legacy::MAX_HEADER_LEN;
use countersign_core::uri::{PathAccounts, UriRefusal};
use std::net::SocketAddr;

/// The legacy header (matched case-insensitively by the HTTP layer).
pub const LEGACY_HEADER: HeaderName = HeaderName::from_static("x-docusign-authentication");
const USER_CONTEXT: HeaderName = HeaderName::from_static("x-as-usercontext");

/// The headers a proxy reports the original URI in: nginx, Traefik and Caddy, Envoy.
pub static URI_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-original-uri"),
    HeaderName::from_static("x-forwarded-uri"),
    HeaderName::from_static("x-envoy-original-path"),
];

/// The wire dialect a request speaks, for the shape of its refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// AssureSign: bearer tokens.
    AssureSign,
    /// DocuSign: the legacy header.
    DocuSign,
}

/// The credential a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential<'h> {
    /// `Authorization: Bearer <token>`.
    Bearer(&'h str),
    /// `X-DocuSign-Authentication`, raw bytes (at most `MAX_HEADER_LEN`).
    DocuSign(&'h [u8]),
    /// No credential.
    Missing(Dialect),
    /// A credential header that cannot be read: sent twice, not text, or too long.
    Unreadable(Dialect),
}

/// `X-AS-UserContext` as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserContextHeader {
    /// Not sent.
    Absent,
    /// Sent once, as text within bounds.
    Sent(UserContext),
    /// Sent twice, not text, or too long.
    Unreadable,
}

impl UserContextHeader {
    /// The parsed context.
    ///
    /// # Errors
    /// `Unreadable` when the header was sent twice, is not text or is too long.
    pub fn context(&self) -> Result<Option<&UserContext>, Unreadable> {
        match self {
            Self::Absent => Ok(None),
            Self::Sent(context) => Ok(Some(context)),
            Self::Unreadable => Err(Unreadable),
        }
    }
}

/// A header that was sent twice, is not text, or is too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreadable;

/// How a request is read: which proxy headers to trust.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// The one original-URI header to trust (`[server.forward_auth] uri_header`); `None`
    /// reads all three and refuses when they disagree.
    pub trusted_uri_header: Option<HeaderName>,
    /// Whether the client address comes from `X-Forwarded-For` / `X-Real-IP`.
    pub trust_forwarded_for: bool,
}

/// A request to verify, read once.
#[derive(Debug)]
pub struct VerifyRequest<'h> {
    /// The credential.
    pub credential: Credential<'h>,
    /// `X-AS-UserContext`.
    pub user_context: UserContextHeader,
    /// The accounts the original URI names, or why it was refused.
    pub path: PathAccounts,
    /// The socket peer.
    pub peer: Option<SocketAddr>,
    /// The first `X-Forwarded-For` hop (or `X-Real-IP`), when trusted and an IP address.
    pub forwarded_for: Option<&'h str>,
    /// The client's `User-Agent`, when text.
    pub user_agent: Option<&'h str>,
}

/// Whether some header of the map was sent more than once. `len` counts values and
/// `keys_len` names, so the common case costs one comparison.
fn has_repeats(headers: &HeaderMap) -> bool {
    headers.len() != headers.keys_len()
}

fn repeated(headers: &HeaderMap, name: &HeaderName, any_repeats: bool) -> bool {
    any_repeats && headers.get_all(name).iter().nth(1).is_some()
}

impl<'h> VerifyRequest<'h> {
    /// Reads a request's headers.
    pub fn parse(headers: &'h HeaderMap, peer: Option<SocketAddr>, options: &ReadOptions) -> Self {
        Self::read(headers, peer, options, None, false)
    }

    /// Reads a forward-auth request (`/v1/verify`), whose original URI is in the URI headers or
    /// in the request's own path (Envoy's `ext_authz` HTTP service: `/v1/verify` + the original
    /// path and query; headers, where read, must agree with it). With a trusted URI header
    /// configured, a forward-auth request that carries neither it nor a path is refused.
    pub fn parse_with_path(
        headers: &'h HeaderMap,
        peer: Option<SocketAddr>,
        options: &ReadOptions,
        from_path: Option<&[u8]>,
    ) -> Self {
        Self::read(headers, peer, options, from_path, true)
    }

    fn read(
        headers: &'h HeaderMap,
        peer: Option<SocketAddr>,
        options: &ReadOptions,
        from_path: Option<&[u8]>,
        forward_auth: bool,
    ) -> Self {
        let any_repeats = has_repeats(headers);
        let path = original_uri(headers, options, any_repeats, from_path, forward_auth);
        let credential = credential(headers, any_repeats);
        let user_context = match headers.get(&USER_CONTEXT) {
            None => UserContextHeader::Absent,
            Some(_) if repeated(headers, &USER_CONTEXT, any_repeats) => {
                UserContextHeader::Unreadable
            }
            Some(value) => match std::str::from_utf8(value.as_bytes()) {
                Ok(raw) if raw.len() <= MAX_USER_CONTEXT_LEN => {
                    UserContextHeader::Sent(access::parse_user_context(raw))
                }
                _ => UserContextHeader::Unreadable,
            },
        };
        Self {
            credential,
            user_context,
            path,
            peer,
            forwarded_for: if options.trust_forwarded_for {
                forwarded_ip(headers)
            } else {
                None
            },
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| std::str::from_utf8(v.as_bytes()).ok()),
        }
    }

    /// The client's address as text, formatted into `buffer` (no allocation).
    pub fn source_ip_text<'b>(&'b self, buffer: &'b mut [u8; 64]) -> Option<&'b str> {
        use std::io::Write;
        if let Some(forwarded) = self.forwarded_for {
            return Some(forwarded);
        }
        let ip = self.peer?.ip();
        let mut cursor = std::io::Cursor::new(&mut buffer[..]);
        write!(cursor, "{ip}").ok()?;
        let length = usize::try_from(cursor.position()).ok()?;
        std::str::from_utf8(&buffer[..length]).ok()
    }

    /// The client's address.
    pub fn source_ip(&self) -> Option<String> {
        let mut buffer = [0u8; 64];
        self.source_ip_text(&mut buffer).map(str::to_owned)
    }
}

/// The original URI's accounts, fail-closed (SPEC §6.1): a header sent twice, or several
/// original-URI sources (headers, and the request path under Envoy) that disagree, are refused;
/// with a trusted header configured, the other headers are ignored.
fn original_uri(
    headers: &HeaderMap,
    options: &ReadOptions,
    any_repeats: bool,
    from_path: Option<&[u8]>,
    forward_auth: bool,
) -> PathAccounts {
    let mut found: Option<&[u8]> = from_path;
    let trusted = options.trusted_uri_header.as_ref();
    let names = trusted.map_or(&URI_HEADERS[..], std::slice::from_ref);
    for name in names {
        let Some(value) = headers.get(name) else {
            continue;
        };
        if repeated(headers, name, any_repeats) {
            return PathAccounts::Refused(UriRefusal::RepeatedHeader);
        }
        match found {
            Some(earlier) if earlier != value.as_bytes() => {
                return PathAccounts::Refused(UriRefusal::ConflictingHeaders);
            }
            _ => found = Some(value.as_bytes()),
        }
    }
    match found {
        Some(uri) => PathAccounts::from_original_uri(uri),
        // A proxy configured to send the trusted header always does: its absence means the
        // request did not come through that proxy, and the account check would see nothing.
        None if forward_auth && trusted.is_some() => {
            PathAccounts::Refused(UriRefusal::TrustedHeaderMissing)
        }
        None => PathAccounts::None,
    }
}

/// The credential: a bearer `Authorization` first; otherwise the legacy header, which an
/// `Authorization` of another scheme does not hide (SPEC §6.1).
fn credential(headers: &HeaderMap, any_repeats: bool) -> Credential<'_> {
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        if access::names_bearer_scheme(authorization.as_bytes()) {
            if repeated(headers, &header::AUTHORIZATION, any_repeats) {
                return Credential::Unreadable(Dialect::AssureSign);
            }
            return match std::str::from_utf8(authorization.as_bytes())
                .ok()
                .and_then(access::bearer_token)
            {
                Some(token) => Credential::Bearer(token),
                None => Credential::Unreadable(Dialect::AssureSign),
            };
        }
        if !headers.contains_key(&LEGACY_HEADER) {
            // Another scheme and nothing else: no credential countersign knows.
            return Credential::Missing(Dialect::AssureSign);
        }
    }
    match headers.get(&LEGACY_HEADER) {
        Some(_) if repeated(headers, &LEGACY_HEADER, any_repeats) => {
            Credential::Unreadable(Dialect::DocuSign)
        }
        Some(value) if value.len() > MAX_HEADER_LEN => Credential::Unreadable(Dialect::DocuSign),
        Some(value) => Credential::DocuSign(value.as_bytes()),
        None => Credential::Missing(dialect_of_path(headers)),
    }
}

/// The first `X-Forwarded-For` hop, or `X-Real-IP`, when it is an IP address.
pub fn forwarded_ip(headers: &HeaderMap) -> Option<&str> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
    };
    text("x-forwarded-for")
        .and_then(|v| v.split(',').next())
        .or_else(|| text("x-real-ip"))
        .map(str::trim)
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
}

/// The client's address: the socket peer, or the first `X-Forwarded-For` / `X-Real-IP` hop
/// when the server is configured to trust its proxy.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded_for: bool,
) -> Option<String> {
    if trust_forwarded_for && let Some(ip) = forwarded_ip(headers) {
        return Some(ip.to_owned());
    }
    peer.map(|addr| addr.ip().to_string())
}

/// The dialect of a request without credentials: DocuSign when the original URI is a
/// `/restapi` path, AssureSign otherwise.
pub fn dialect_of_path(headers: &HeaderMap) -> Dialect {
    let speaks_docusign = URI_HEADERS.iter().any(|name| {
        headers.get(name).is_some_and(|value| {
            value
                .as_bytes()
                .get(..8)
                .is_some_and(|start| start.eq_ignore_ascii_case(b"/restapi"))
        })
    });
    if speaks_docusign {
        Dialect::DocuSign
    } else {
        Dialect::AssureSign
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use countersign_core::access::AccountRef;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_bytes(value).expect("header value"),
            );
        }
        map
    }

    fn parse(map: &HeaderMap) -> VerifyRequest<'_> {
        VerifyRequest::parse(map, None, &ReadOptions::default())
    }

    #[test]
    fn a_forward_auth_request_without_the_trusted_header_is_refused() {
        let trusted = ReadOptions {
            trusted_uri_header: Some(HeaderName::from_static("x-forwarded-uri")),
            trust_forwarded_for: false,
        };
        // The client's own X-Original-URI is ignored, and the trusted header is missing.
        let map = headers(&[("x-original-uri", b"/restapi/v2/accounts/1/x")]);
        assert_eq!(
            VerifyRequest::parse_with_path(&map, None, &trusted, None).path,
            PathAccounts::Refused(UriRefusal::TrustedHeaderMissing)
        );
        // Envoy's path form stands in for the header.
        assert_eq!(
            VerifyRequest::parse_with_path(&map, None, &trusted, Some(b"/accounts/2/x")).path,
            PathAccounts::Named(vec![AccountRef::Number("2".into())])
        );
        // Outside forward auth there is no original URI to miss.
        assert_eq!(
            VerifyRequest::parse(&map, None, &trusted).path,
            PathAccounts::None
        );
        let unset = headers(&[]);
        assert_eq!(
            VerifyRequest::parse_with_path(&unset, None, &ReadOptions::default(), None).path,
            PathAccounts::None
        );
    }

    #[test]
    fn disagreeing_uri_headers_are_refused_unless_one_is_trusted() {
        let map = headers(&[
            ("x-forwarded-uri", b"/restapi/v2/accounts/2/x"),
            ("x-original-uri", b"/restapi/v2/accounts/1/x"),
        ]);
        assert_eq!(
            parse(&map).path,
            PathAccounts::Refused(UriRefusal::ConflictingHeaders)
        );
        let trusted = ReadOptions {
            trusted_uri_header: Some(HeaderName::from_static("x-forwarded-uri")),
            trust_forwarded_for: false,
        };
        assert_eq!(
            VerifyRequest::parse(&map, None, &trusted).path,
            PathAccounts::Named(vec![AccountRef::Number("2".into())])
        );
        let same = headers(&[
            ("x-forwarded-uri", b"/accounts/1/x"),
            ("x-original-uri", b"/accounts/1/x"),
        ]);
        assert_eq!(
            parse(&same).path,
            PathAccounts::Named(vec![AccountRef::Number("1".into())])
        );
    }

    #[test]
    fn a_uri_in_the_path_must_agree_with_the_uri_headers() {
        let map = headers(&[("x-envoy-original-path", b"/accounts/2/x")]);
        let read = |map| {
            VerifyRequest::parse_with_path(
                map,
                None,
                &ReadOptions::default(),
                Some(b"/accounts/1/x"),
            )
            .path
        };
        assert_eq!(
            read(&map),
            PathAccounts::Refused(UriRefusal::ConflictingHeaders)
        );
        let none = HeaderMap::new();
        assert_eq!(
            read(&none),
            PathAccounts::Named(vec![AccountRef::Number("1".into())])
        );
    }

    #[test]
    fn repeated_headers_are_unreadable() {
        let map = headers(&[
            ("x-original-uri", b"/accounts/1/x"),
            ("x-original-uri", b"/accounts/2/x"),
        ]);
        assert_eq!(
            parse(&map).path,
            PathAccounts::Refused(UriRefusal::RepeatedHeader)
        );
        let map = headers(&[
            ("authorization", b"Bearer a"),
            ("authorization", b"Bearer b"),
        ]);
        assert_eq!(
            parse(&map).credential,
            Credential::Unreadable(Dialect::AssureSign)
        );
        let map = headers(&[
            ("x-docusign-authentication", b"{}"),
            ("x-docusign-authentication", b"{}"),
        ]);
        assert_eq!(
            parse(&map).credential,
            Credential::Unreadable(Dialect::DocuSign)
        );
        let map = headers(&[("x-as-usercontext", b"a:"), ("x-as-usercontext", b"b:")]);
        assert_eq!(parse(&map).user_context, UserContextHeader::Unreadable);
    }

    #[test]
    fn another_authorization_scheme_does_not_hide_the_legacy_header() {
        let map = headers(&[
            ("authorization", b"Basic dXNlcjpwYXNz"),
            ("x-docusign-authentication", b"{}"),
        ]);
        assert_eq!(parse(&map).credential, Credential::DocuSign(b"{}"));
        let map = headers(&[("authorization", b"Basic dXNlcjpwYXNz")]);
        assert_eq!(
            parse(&map).credential,
            Credential::Missing(Dialect::AssureSign)
        );
        let map = headers(&[("authorization", b"bearer \xff")]);
        assert_eq!(
            parse(&map).credential,
            Credential::Unreadable(Dialect::AssureSign)
        );
    }

    #[test]
    fn a_non_utf8_user_context_is_unreadable() {
        let map = headers(&[("x-as-usercontext", b"bob\xff:")]);
        assert_eq!(parse(&map).user_context, UserContextHeader::Unreadable);
    }
}

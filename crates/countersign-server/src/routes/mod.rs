//! HTTP handlers of the authentication surface: the AssureSign dialect, forward auth and
//! operations endpoints.

pub mod assuresign;
pub mod forward;
pub mod health;
pub mod introspect;

use axum::http::{HeaderMap, HeaderName};
use std::net::SocketAddr;

/// A header value that is not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotText;

/// A header's value as text: `Ok(None)` when absent.
///
/// # Errors
/// `NotText` when the value's bytes are not UTF-8.
pub fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, NotText> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => std::str::from_utf8(value.as_bytes())
            .map(Some)
            .map_err(|_| NotText),
    }
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

/// The first `X-Forwarded-For` hop, or `X-Real-IP`, when it is an IP address.
pub fn forwarded_ip(headers: &HeaderMap) -> Option<&str> {
    header_text(headers, "x-forwarded-for")
        .ok()
        .flatten()
        .and_then(|v| v.split(',').next())
        .or_else(|| header_text(headers, "x-real-ip").ok().flatten())
        .map(str::trim)
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
}

/// The original request URI as reported by the proxy (nginx, Traefik, Envoy).
pub fn original_uri_text(headers: &HeaderMap) -> Option<&str> {
    const NAMES: [HeaderName; 3] = [
        HeaderName::from_static("x-original-uri"),
        HeaderName::from_static("x-forwarded-uri"),
        HeaderName::from_static("x-envoy-original-path"),
    ];
    NAMES.iter().find_map(|name| {
        headers
            .get(name)
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
    })
}

/// The socket peer's address, when the server was started with connect info.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

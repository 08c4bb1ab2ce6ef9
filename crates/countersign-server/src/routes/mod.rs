//! HTTP handlers of the authentication surface: the AssureSign and DocuSign dialects, forward
//! auth, introspection and operations endpoints.

pub mod assuresign;
pub mod docs;
pub mod docusign;
pub mod forward;
pub mod health;
pub mod introspect;
pub mod oauth;

use axum::http::HeaderMap;
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

pub use crate::verify::request::client_ip;

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

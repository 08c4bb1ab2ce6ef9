//! What handlers of every surface read off a request's parts: a header as text (fail closed on
//! a repeated or non-UTF-8 value), the body's media type, and the socket peer. Below the
//! surfaces (`routes`, `admin`, `console`), which all use it.

use axum::http::HeaderMap;
use std::net::SocketAddr;

/// A header that cannot be read as one text: sent more than once, or not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotText;

/// A header's value as text: `Ok(None)` when absent.
///
/// # Errors
/// `NotText` when the header was sent more than once (which of two would be meant?) or its
/// bytes are not UTF-8.
pub fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, NotText> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(NotText);
    }
    std::str::from_utf8(value.as_bytes())
        .map(Some)
        .map_err(|_| NotText)
}

/// Whether the request's `Content-Type` is `media_type` (parameters such as `charset` aside,
/// case-insensitive). A `Content-Type` sent twice or not as text matches nothing: which one
/// would describe the body?
pub fn has_media_type(headers: &HeaderMap, media_type: &str) -> bool {
    media_type_of(headers).is_some_and(|mime| mime.eq_ignore_ascii_case(media_type))
}

/// The request's media type (`Content-Type` without its parameters), when sent once as text.
pub fn media_type_of(headers: &HeaderMap) -> Option<&str> {
    header_text(headers, axum::http::header::CONTENT_TYPE.as_str())
        .ok()
        .flatten()
        .and_then(|value| value.split(';').next())
        .map(str::trim)
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

/// At most this many query parameters; no query of the admin API or the console has more.
const MAX_QUERY_PARAMETERS: usize = 32;

/// Reads the request's query into `T`. Every parameter must decode (see
/// [`countersign_core::form`]): a percent-escape that is broken or not UTF-8 is refused here
/// rather than read with replacement characters, as a plain `Query` would.
///
/// # Errors
/// What is wrong, in words a caller can act on.
pub fn strict_query<T: serde::de::DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, String> {
    countersign_core::form::pairs(uri.query().unwrap_or(""), MAX_QUERY_PARAMETERS)
        .map_err(|_| "a part is empty (a stray `&`) or has no name, does not decode to text, or there are more than 32".to_owned())?;
    axum::extract::Query::<T>::try_from_uri(uri)
        .map(|query| query.0)
        .map_err(|error| error.body_text())
}

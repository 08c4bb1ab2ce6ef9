//! Path parameters, refused in the dialect of the surface that reads them.
//!
//! Each surface declares its extractors beside its error type, with [`id_extractor!`] and
//! [`path_extractor!`], and says how it refuses a path ([`PathRefusal`]): the admin API's
//! `AdminId`/`AdminPath` (problem+json), the console's `ConsoleId`/`ConsolePath` (its pages),
//! the AssureSign dialect's `AssureSignPath`. The one id a resource path names
//! (`/admin/v1/users/{id}`, `/console/users/{id}`) is read by an id extractor: well-formed text
//! that is not an id is a 404 naming the resource, with the name the store declares for it. In
//! every extractor a segment that does not decode (percent-encoded bytes that are not UTF-8) is
//! the surface's 400, never axum's plain-text answer, and a route whose parameters do not match
//! what its handler reads (a wiring mistake, not the client's) is logged and answered 500. A
//! handler receives the parsed parameters or is never called. This module knows no surface.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use countersign_core::ids::{
    AccountId, ApiUserId, EnvironmentId, IntegratorKeyId, IntrospectionClientId, UserId, WebhookId,
};
use countersign_store::OwnedId;
use serde::de::DeserializeOwned;

/// An id type a path names: a record the store reads by it ([`OwnedId`]).
pub trait PathId: OwnedId + Sized + Send {
    /// The id, or `None` when the text is not one.
    fn parse(text: &str) -> Option<Self>;
}

macro_rules! path_ids {
    ($($id:ident),* $(,)?) => {$(
        impl PathId for $id {
            fn parse(text: &str) -> Option<Self> {
                $id::parse(text)
            }
        }
    )*};
}

path_ids!(
    AccountId,
    ApiUserId,
    EnvironmentId,
    IntegratorKeyId,
    IntrospectionClientId,
    UserId,
    WebhookId,
);

/// How a path that could not be read is refused: the client's mistake (4xx) or the route's.
pub(crate) enum Unread {
    /// A segment does not decode: the dialect's 400, with axum's description.
    Client(String),
    /// The route and the handler disagree: logged, answered 500.
    Wiring,
}

fn unread(rejection: &PathRejection) -> Unread {
    if rejection.status().is_client_error() {
        Unread::Client(rejection.body_text())
    } else {
        tracing::error!(rejection = %rejection.body_text(), "a route's path parameters do not match its handler");
        Unread::Wiring
    }
}

/// The path's parameters as `T`.
pub(crate) async fn read<S: Send + Sync, T: DeserializeOwned + Send>(
    parts: &mut Parts,
    state: &S,
) -> Result<T, Unread> {
    match Path::<T>::from_request_parts(parts, state).await {
        Ok(Path(value)) => Ok(value),
        Err(rejection) => Err(unread(&rejection)),
    }
}

/// How a surface answers an unreadable path.
pub(crate) trait PathRefusal {
    /// A segment does not decode (`detail`: axum's description): the surface's 400.
    fn unreadable(detail: String) -> Self;
    /// The route and the handler disagree: the surface's 500.
    fn internal() -> Self;
}

/// The refusal of `unread` in the dialect of `E`.
pub(crate) fn refusal<E: PathRefusal>(unread: Unread) -> E {
    match unread {
        Unread::Client(detail) => E::unreadable(detail),
        Unread::Wiring => E::internal(),
    }
}

/// Declares `$name<T>`, the id of a resource path, refused with `$error` (which has a
/// `NotFound(&'static str)` variant and implements [`PathRefusal`]).
macro_rules! id_extractor {
    ($(#[$doc:meta])* $name:ident, $error:ident) => {
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<S: Send + Sync, T: $crate::path_id::PathId> ::axum::extract::FromRequestParts<S>
            for $name<T>
        {
            type Rejection = $error;

            async fn from_request_parts(
                parts: &mut ::axum::http::request::Parts,
                state: &S,
            ) -> Result<Self, $error> {
                let text: String = $crate::path_id::read(parts, state)
                    .await
                    .map_err($crate::path_id::refusal::<$error>)?;
                T::parse(&text).map(Self).ok_or($error::NotFound(
                    <T::Record as ::countersign_store::Owned>::ENTITY,
                ))
            }
        }
    };
}
pub(crate) use id_extractor;

/// Declares `$name<T>`, a route's path parameters as `T`, refused with `$error` (which
/// implements [`PathRefusal`]).
macro_rules! path_extractor {
    ($(#[$doc:meta])* $name:ident, $error:ident) => {
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<S: Send + Sync, T: ::serde::de::DeserializeOwned + Send>
            ::axum::extract::FromRequestParts<S> for $name<T>
        {
            type Rejection = $error;

            async fn from_request_parts(
                parts: &mut ::axum::http::request::Parts,
                state: &S,
            ) -> Result<Self, $error> {
                $crate::path_id::read(parts, state)
                    .await
                    .map(Self)
                    .map_err($crate::path_id::refusal::<$error>)
            }
        }
    };
}
pub(crate) use path_extractor;

//! Path parameters, refused in the dialect of the surface that reads them.
//!
//! The one id a resource path names (`/admin/v1/users/{id}`, `/console/users/{id}`) is read by
//! [`AdminId`] (problem+json) or [`ConsoleId`] (the console's pages): well-formed text that is
//! not an id is a 404 naming the resource, with the name the store declares for it. Any other
//! path parameters are read by [`AdminPath`], [`ConsolePath`] or [`AssureSignPath`]. In every
//! extractor a segment that does not decode (percent-encoded bytes that are not UTF-8) is the
//! surface's 400, never axum's plain-text answer, and a route whose parameters do not match
//! what its handler reads (a wiring mistake, not the client's) is logged and answered 500. A
//! handler receives the parsed parameters or is never called.

use crate::admin::AdminError;
use crate::console::layout::ConsoleError;
use crate::dialect::assuresign::AssureSignError;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use countersign_core::ids::{
    AccountId, ApiUserId, EnvironmentId, IntegratorKeyId, IntrospectionClientId, UserId, WebhookId,
};
use countersign_store::{Owned, OwnedId};
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
enum Unread {
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
async fn read<S: Send + Sync, T: DeserializeOwned + Send>(
    parts: &mut Parts,
    state: &S,
) -> Result<T, Unread> {
    match Path::<T>::from_request_parts(parts, state).await {
        Ok(Path(value)) => Ok(value),
        Err(rejection) => Err(unread(&rejection)),
    }
}

/// How each surface answers an unreadable path.
trait PathRefusal {
    fn unreadable(detail: String) -> Self;
    fn internal() -> Self;
}

impl PathRefusal for AdminError {
    fn unreadable(detail: String) -> Self {
        Self::BadRequest(detail)
    }
    fn internal() -> Self {
        Self::Internal
    }
}

impl PathRefusal for ConsoleError {
    fn unreadable(_: String) -> Self {
        Self::BadRequest("the address is malformed")
    }
    fn internal() -> Self {
        Self::Internal
    }
}

impl PathRefusal for AssureSignError {
    fn unreadable(detail: String) -> Self {
        Self::BadRequest(vec![detail])
    }
    fn internal() -> Self {
        Self::Internal
    }
}

fn refusal<E: PathRefusal>(unread: Unread) -> E {
    match unread {
        Unread::Client(detail) => E::unreadable(detail),
        Unread::Wiring => E::internal(),
    }
}

macro_rules! id_extractor {
    ($(#[$doc:meta])* $name:ident, $error:ident) => {
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<S: Send + Sync, T: PathId> FromRequestParts<S> for $name<T> {
            type Rejection = $error;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, $error> {
                let text: String = read(parts, state).await.map_err(refusal::<$error>)?;
                T::parse(&text)
                    .map(Self)
                    .ok_or($error::NotFound(<T::Record as Owned>::ENTITY))
            }
        }
    };
}

id_extractor! {
    /// The id of an admin API path; 404 problem+json naming the resource when it is not one.
    AdminId, AdminError
}

id_extractor! {
    /// The id of a console path; the console's not-found page when it is not one.
    ConsoleId, ConsoleError
}

macro_rules! path_extractor {
    ($(#[$doc:meta])* $name:ident, $error:ident) => {
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for $name<T> {
            type Rejection = $error;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, $error> {
                read(parts, state).await.map(Self).map_err(refusal::<$error>)
            }
        }
    };
}

path_extractor! {
    /// Path parameters of an admin API route.
    AdminPath, AdminError
}

path_extractor! {
    /// Path parameters of a console route.
    ConsolePath, ConsoleError
}

path_extractor! {
    /// Path parameters of an AssureSign route.
    AssureSignPath, AssureSignError
}

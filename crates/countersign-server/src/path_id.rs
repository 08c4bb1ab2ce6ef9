//! Path parameters, refused in the dialect of the surface that reads them.
//!
//! Each surface declares its extractors beside its error type, with [`id_extractor!`] and
//! [`path_extractor!`], and says how it refuses a path ([`PathRefusal`]): the admin API's
//! `AdminId` (problem+json), the console's `ConsoleId` (its pages), the AssureSign dialect's
//! `AssureSignPath`. The ids a resource path names (`/admin/v1/users/{id}`,
//! `/console/users/{id}/memberships/{account_id}`) are read by an id extractor: well-formed text
//! that is not an id is a 404 naming the resource ([`PathId::ENTITY`], for records the name the
//! store declares). In
//! every extractor a segment that does not decode (percent-encoded bytes that are not UTF-8) is
//! the surface's 400, never axum's plain-text answer, and a route whose parameters do not match
//! what its handler reads (a wiring mistake, not the client's) is logged and answered 500. A
//! handler receives the parsed parameters or is never called. This module knows no surface.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use countersign_core::ids::{
    AccountId, ApiUserId, EnvironmentId, IntegratorKeyId, IntrospectionClientId, OAuthRsaKeyId,
    OAuthSecretId, UserId, WebhookId,
};
use countersign_store::{Owned, OwnedId};
use serde::de::DeserializeOwned;

/// An id type a path names, and what it names (the 404 says "{ENTITY} not found").
pub trait PathId: Sized + Send {
    /// What the id names, as the 404 calls it.
    const ENTITY: &'static str;
    /// The id, or `None` when the text is not one.
    fn parse(text: &str) -> Option<Self>;
}

/// The ids of records an organization owns, named as the store names them.
macro_rules! owned_path_ids {
    ($($id:ident),* $(,)?) => {$(
        impl PathId for $id {
            const ENTITY: &'static str = <<$id as OwnedId>::Record as Owned>::ENTITY;
            fn parse(text: &str) -> Option<Self> {
                $id::parse(text)
            }
        }
    )*};
}

owned_path_ids!(
    AccountId,
    ApiUserId,
    EnvironmentId,
    IntegratorKeyId,
    IntrospectionClientId,
    UserId,
    WebhookId,
);

impl PathId for OAuthSecretId {
    const ENTITY: &'static str = "client secret";
    fn parse(text: &str) -> Option<Self> {
        Self::parse(text)
    }
}

impl PathId for OAuthRsaKeyId {
    const ENTITY: &'static str = "rsa key";
    fn parse(text: &str) -> Option<Self> {
        Self::parse(text)
    }
}

/// The integrator key of a user's consent (`/…/consents/{integrator_key_id}`): a key that is
/// not one is a consent not found.
#[derive(Clone, Copy, Debug)]
pub struct ConsentKey(pub IntegratorKeyId);

impl PathId for ConsentKey {
    const ENTITY: &'static str = "consent";
    fn parse(text: &str) -> Option<Self> {
        IntegratorKeyId::parse(text).map(Self)
    }
}

/// What an id extractor reads: one id, or two (`/users/{id}/memberships/{account_id}`).
pub trait PathIds: Sized + Send {
    /// The path's parameters as text.
    type Text: DeserializeOwned + Send;
    /// The ids, or what the first one that is not an id names.
    ///
    /// # Errors
    /// The [`PathId::ENTITY`] of the first text that is not its id.
    fn parse(text: Self::Text) -> Result<Self, &'static str>;
}

impl<T: PathId> PathIds for T {
    type Text = String;
    fn parse(text: String) -> Result<Self, &'static str> {
        T::parse(&text).ok_or(T::ENTITY)
    }
}

impl<A: PathId, B: PathId> PathIds for (A, B) {
    type Text = (String, String);
    fn parse((a, b): (String, String)) -> Result<Self, &'static str> {
        Ok((
            A::parse(&a).ok_or(A::ENTITY)?,
            B::parse(&b).ok_or(B::ENTITY)?,
        ))
    }
}

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

/// Declares `$name<T>`, the id (or the two ids, [`PathIds`]) of a resource path, refused with
/// `$error` (which has a `NotFound(&'static str)` variant and implements [`PathRefusal`]).
macro_rules! id_extractor {
    ($(#[$doc:meta])* $name:ident, $error:ident) => {
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<S: Send + Sync, T: $crate::path_id::PathIds> ::axum::extract::FromRequestParts<S>
            for $name<T>
        {
            type Rejection = $error;

            async fn from_request_parts(
                parts: &mut ::axum::http::request::Parts,
                state: &S,
            ) -> Result<Self, $error> {
                let text: T::Text = $crate::path_id::read(parts, state)
                    .await
                    .map_err($crate::path_id::refusal::<$error>)?;
                T::parse(text).map(Self).map_err($error::NotFound)
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

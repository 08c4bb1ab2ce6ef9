//! Path parameters, refused in the dialect of the surface that reads them. The one id a
//! resource path names (`/admin/v1/users/{id}`, `/console/users/{id}`): how each id type
//! parses and what a 404 calls it, and the extractors that refuse a path whose id is not one,
//! in the admin API's problem+json ([`AdminId`]) or as the console's not-found page
//! ([`ConsoleId`]). Any other path parameters ([`AdminPath`], [`ConsolePath`],
//! [`AssureSignPath`]): a segment that does not decode (percent-encoded bytes that are not
//! UTF-8) is the dialect's 400, never axum's plain-text answer. A handler receives the parsed
//! parameters or is never called.

use crate::admin::AdminError;
use crate::console::layout::ConsoleError;
use crate::dialect::assuresign::AssureSignError;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use countersign_core::ids::{
    AccountId, ApiUserId, EnvironmentId, IntegratorKeyId, IntrospectionClientId, UserId, WebhookId,
};
use serde::de::DeserializeOwned;

/// An id type a path names.
pub trait PathId: Sized + Send {
    /// What a 404 calls the resource.
    const ENTITY: &'static str;
    /// The id, or `None` when the text is not one.
    fn parse(text: &str) -> Option<Self>;
}

macro_rules! path_ids {
    ($($id:ident => $entity:literal),* $(,)?) => {$(
        impl PathId for $id {
            const ENTITY: &'static str = $entity;
            fn parse(text: &str) -> Option<Self> {
                $id::parse(text)
            }
        }
    )*};
}

path_ids! {
    AccountId => "account",
    ApiUserId => "api user",
    EnvironmentId => "environment",
    IntegratorKeyId => "integrator key",
    IntrospectionClientId => "introspection client",
    UserId => "user",
    WebhookId => "webhook",
}

/// The path's id, or `None` when the path has no single segment that is one.
async fn read<S: Send + Sync, T: PathId>(parts: &mut Parts, state: &S) -> Option<T> {
    let Path(text) = Path::<String>::from_request_parts(parts, state)
        .await
        .ok()?;
    T::parse(&text)
}

macro_rules! id_extractor {
    ($(#[$doc:meta])* $name:ident, $error:ident) => {
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<S: Send + Sync, T: PathId> FromRequestParts<S> for $name<T> {
            type Rejection = $error;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, $error> {
                read(parts, state).await.map(Self).ok_or($error::NotFound(T::ENTITY))
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
    ($(#[$doc:meta])* $name:ident, $error:ident, $refusal:expr) => {
        $(#[$doc])*
        pub struct $name<T>(pub T);

        impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for $name<T> {
            type Rejection = $error;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, $error> {
                match Path::<T>::from_request_parts(parts, state).await {
                    Ok(Path(value)) => Ok(Self(value)),
                    Err(rejection) => Err($refusal(rejection.body_text())),
                }
            }
        }
    };
}

path_extractor! {
    /// Path parameters of an admin API route; 400 problem+json when a segment does not decode.
    AdminPath, AdminError, AdminError::BadRequest
}

path_extractor! {
    /// Path parameters of a console route; the console's 400 page when a segment does not
    /// decode.
    ConsolePath, ConsoleError, |_: String| ConsoleError::BadRequest("the address is malformed")
}

path_extractor! {
    /// Path parameters of an AssureSign route; the dialect's 400 when a segment does not decode.
    AssureSignPath, AssureSignError, |detail: String| AssureSignError::BadRequest(vec![detail])
}

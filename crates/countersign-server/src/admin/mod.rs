//! The admin REST API under `/admin/v1`: JSON in, JSON out, RFC 9457 problem details on error.
//! Every resource handler requires an organization administrator.

pub mod api_users;
pub mod audit;
pub mod directory;
pub mod introspection_clients;
pub mod me;
pub mod migration;
pub mod oauth_clients;
pub mod organization;
pub mod report;
pub mod session;
pub mod webhooks;

use crate::dialect::problem::Problem;
use crate::ops::OpError;
use crate::state::AppState;
use axum::body::to_bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use countersign_store::{Page, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// A field that may be absent but, when given, must not be null (`deserialize_with` on an
/// `Option<T>` with `#[serde(default)]`): a JSON `null` is refused as malformed, never read
/// as "not sent".
pub(crate) fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A field that is present (possibly null), told apart from an absent one (`Option<Option<T>>`
/// with `#[serde(default)]`): null clears, absent leaves alone.
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

pub use session::OrgAdmin;

/// An admin API error, rendered as `application/problem+json` with a stable `code`.
#[derive(Debug)]
pub enum AdminError {
    /// Missing, invalid or expired session (401, `unauthorized`).
    Unauthorized,
    /// Wrong email or password at sign-in (401, `invalid_credentials`).
    InvalidCredentials,
    /// Signed in but not entitled (403).
    Forbidden {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        detail: &'static str,
    },
    /// No such resource (404, `not_found`).
    NotFound(&'static str),
    /// A uniqueness rule (409).
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        detail: String,
    },
    /// A field is invalid (422, `validation_failed`).
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A field breaks an organization rule (422 with its own code).
    Refused {
        /// Stable code.
        code: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A name holds a character that could make it show as another (400, `unreadable_name`).
    Unreadable {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The body or query cannot be parsed (400, `invalid_request`).
    BadRequest(String),
    /// The body is not JSON (415).
    UnsupportedMediaType,
    /// The body is too large (413).
    PayloadTooLarge,
    /// The body did not arrive in time (408).
    RequestTimeout,
    /// Too many failed sign-ins (429); retry after this many seconds.
    TooManyRequests(u64),
    /// Internal failure (500); logged, never described.
    Internal,
}

impl crate::path_id::PathRefusal for AdminError {
    fn unreadable(detail: String) -> Self {
        Self::BadRequest(detail)
    }
    fn internal() -> Self {
        Self::Internal
    }
}

crate::path_id::id_extractor! {
    /// The id of an admin API path; 404 problem+json naming the resource when it is not one.
    AdminId, AdminError
}

impl AdminError {
    /// A body that could not be read: too slow (408) or too large (413).
    pub(crate) fn unread_body(error: &axum::Error) -> Self {
        if crate::connections::body_too_slow(error) {
            Self::RequestTimeout
        } else {
            Self::PayloadTooLarge
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Option<&'static str>) {
        match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "sign in first: POST /admin/v1/login".into(),
                None,
            ),
            Self::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "email or password is invalid".into(),
                None,
            ),
            Self::Forbidden { code, detail } => {
                (StatusCode::FORBIDDEN, code, (*detail).into(), None)
            }
            Self::NotFound(entity) => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{entity} not found"),
                None,
            ),
            Self::Conflict { code, detail } => (StatusCode::CONFLICT, code, detail.clone(), None),
            Self::Invalid { field, detail } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                detail.clone(),
                Some(*field),
            ),
            Self::Refused {
                code,
                field,
                detail,
            } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                detail.clone(),
                Some(*field),
            ),
            Self::Unreadable { field, detail } => (
                StatusCode::BAD_REQUEST,
                "unreadable_name",
                detail.clone(),
                Some(*field),
            ),
            Self::BadRequest(detail) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                detail.clone(),
                None,
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Content-Type must be application/json".into(),
                None,
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large".into(),
                None,
            ),
            Self::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time".into(),
                None,
            ),
            Self::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many failed attempts; retry later".into(),
                None,
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred".into(),
                None,
            ),
        }
    }

    /// The 403 for a signed-in user who does not administer every environment.
    pub fn not_organization_admin() -> Self {
        Self::Forbidden {
            code: "not_organization_admin",
            detail: "you must be an administrator of every environment of the organization",
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code, detail, field) = self.parts();
        let retry_after = match &self {
            Self::TooManyRequests(seconds) => Some(*seconds),
            _ => None,
        };
        let problem = Problem {
            status,
            code,
            detail: &detail,
            field,
        };
        problem.respond("Bearer realm=\"countersign-admin\"", retry_after)
    }
}

impl From<OpError> for AdminError {
    fn from(error: OpError) -> Self {
        match error {
            OpError::NotFound(entity) => Self::NotFound(entity),
            OpError::Conflict { code, detail } => Self::Conflict { code, detail },
            OpError::Invalid { field, detail } => Self::Invalid { field, detail },
            OpError::Unreadable { field, detail } => Self::Unreadable { field, detail },
            OpError::Refused {
                code,
                field,
                detail,
            } => Self::Refused {
                code,
                field,
                detail,
            },
            OpError::Store(error) => {
                tracing::error!(%error, source = ?std::error::Error::source(&error), "store failure in admin API");
                Self::Internal
            }
        }
    }
}

impl From<crate::passwords::Busy> for AdminError {
    /// A full password pool is answered like a throttle in force: retry in a second (SPEC §9).
    fn from(_: crate::passwords::Busy) -> Self {
        Self::TooManyRequests(1)
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        OpError::from(error).into()
    }
}

/// A JSON body, refused in problem+json when not JSON, too large or malformed.
#[derive(Debug)]
pub struct AdminJson<T>(pub T);

impl<T> FromRequest<AppState> for AdminJson<T>
where
    T: DeserializeOwned,
{
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AdminError> {
        let is_json = crate::request_parts::media_type_of(request.headers()).is_some_and(|mime| {
            let mime = mime.to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        });
        if !is_json {
            return Err(AdminError::UnsupportedMediaType);
        }
        let bytes = to_bytes(request.into_body(), state.config.admin_body_limit)
            .await
            .map_err(|error| AdminError::unread_body(&error))?;
        if escapes_nul(&bytes) {
            return Err(AdminError::BadRequest(
                "a string holds a NUL (\\u0000), which no name, key or text may".into(),
            ));
        }
        serde_json::from_slice(&bytes)
            .map(AdminJson)
            .map_err(|error| {
                AdminError::BadRequest(format!(
                    "invalid JSON body: {}",
                    describe_json_error(&error)
                ))
            })
    }
}

/// Whether JSON text holds the escape `\u0000` (a NUL in a string: JSON cannot carry one any
/// other way). No name, email, URL or note of the admin API may hold one, and PostgreSQL could
/// not store it, so every body is refused here, before any field is read.
fn escapes_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(at, window)| {
        window == b"\\u0000"
            && json[..at]
                .iter()
                .rev()
                .take_while(|&&byte| byte == b'\\')
                .count()
                % 2
                == 0
    })
}

/// Describes a JSON error by category and position only, so no part of the body is echoed.
fn describe_json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let reason = if text.starts_with("missing field")
        || text.starts_with("unknown field")
        || text.starts_with("unknown variant")
    {
        // These name only the schema's own field and variant names.
        text.split(" at line")
            .next()
            .unwrap_or("invalid")
            .to_owned()
    } else {
        match error.classify() {
            serde_json::error::Category::Syntax => "syntax error".into(),
            serde_json::error::Category::Eof => "unexpected end of input".into(),
            serde_json::error::Category::Data => "a field has the wrong type or value".into(),
            serde_json::error::Category::Io => "unreadable body".into(),
        }
    };
    format!(
        "{reason} (line {}, column {})",
        error.line(),
        error.column()
    )
}

/// Query parameters, refused in problem+json when malformed.
#[derive(Debug)]
pub struct AdminQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AdminQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AdminError> {
        crate::request_parts::strict_query(&parts.uri)
            .map(AdminQuery)
            .map_err(|error| AdminError::BadRequest(format!("invalid query: {error}")))
    }
}

/// Paging parameters of every list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, 1–1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// The validated page size.
    ///
    /// # Errors
    /// `Invalid` outside 1–1000.
    pub fn limit(&self) -> Result<u32, AdminError> {
        match self.limit {
            None => Ok(100),
            Some(limit) if (1..=1000).contains(&limit) => Ok(limit),
            Some(_) => Err(AdminError::Invalid {
                field: "limit",
                detail: "limit must be between 1 and 1000".into(),
            }),
        }
    }

    /// The cursor, bounded.
    ///
    /// # Errors
    /// An empty or over-long cursor is refused: reading it as "first page" would send a client
    /// walking the pages back to the start.
    pub fn cursor(&self) -> Result<Option<&str>, AdminError> {
        match self.cursor.as_deref() {
            Some(cursor) if cursor.is_empty() || cursor.len() > 64 => Err(AdminError::Invalid {
                field: "cursor",
                detail: "cursor must be the next_cursor of a previous page".into(),
            }),
            cursor => Ok(cursor),
        }
    }

    /// The cursor of a list paged by a numeric key (audit records).
    ///
    /// # Errors
    /// As [`Self::cursor`], and a cursor that is not a number is refused.
    pub fn numeric_cursor(&self) -> Result<Option<i64>, AdminError> {
        self.cursor()?
            .map(|text| {
                text.parse::<i64>().map_err(|_| AdminError::Invalid {
                    field: "cursor",
                    detail: "cursor is invalid".into(),
                })
            })
            .transpose()
    }
}

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListBody<T> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> ListBody<T> {
    /// Converts a store page.
    pub fn from_page<S>(page: Page<S>, convert: impl Fn(S) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(convert).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

pub use crate::clock::rfc3339;

#[cfg(test)]
mod tests {
    use super::escapes_nul;

    #[test]
    fn a_nul_escape_is_found_and_an_escaped_backslash_before_u0000_is_not_one() {
        for json in [r#"{"a":"\u0000"}"#, r#"{"a":"x\\\u0000"}"#, r#"["\u0000"]"#] {
            assert!(escapes_nul(json.as_bytes()), "{json}");
        }
        fn holds_nul(value: &serde_json::Value) -> bool {
            match value {
                serde_json::Value::String(text) => text.contains('\0'),
                serde_json::Value::Array(items) => items.iter().any(holds_nul),
                serde_json::Value::Object(members) => members
                    .iter()
                    .any(|(name, v)| name.contains('\0') || holds_nul(v)),
                _ => false,
            }
        }
        for json in [
            r#"{"a":"\\u0000"}"#,
            r#"{"a":"\\\\u0000"}"#,
            r#"{"a":"\u00001"}"#,
            "{}",
        ] {
            let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
            assert_eq!(escapes_nul(json.as_bytes()), holds_nul(&value), "{json}");
        }
    }
}

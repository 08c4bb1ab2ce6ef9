//! Secret-scanning leak reports (SPEC §14): `POST /v1/credentials/leaked` in GitHub's secret
//! scanning partner format. The signature is checked over the raw body before anything is
//! read; every `csk_` key's checksum before any lookup; every well-formed key costs one digest
//! and a share of one batched lookup whether it matches or not; matching keys are handled by
//! `ops::leaks` (revoked at once, or only notified, by the organization's policy).

use crate::dialect::problem::Problem;
use crate::ops::leaks::LeakContext;
use crate::state::AppState;
use crate::throttle::ThrottleKey;
use crate::verify::request::client_ip;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use countersign_core::ids::{ApiKeyId, ApiUserId, UserId};
use countersign_core::key::ApiKey;
use countersign_core::token::{self, TokenError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Items in one report at most (SPEC §14).
pub(crate) const MAX_ITEMS: usize = 1000;
/// Largest report body: 1,000 items with room for long URLs (cut to [`MAX_TEXT`] when kept).
/// Parsing keeps at most [`MAX_ITEMS`] items, so memory stays within a few times this size.
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;
/// What the bodies of leak reports being read may hold together, in KiB: four full reports.
/// A report takes its share as its bytes arrive (a sender holds only what it has sent), so
/// senders that stall hold little, and memory stays bounded however many connections send one.
pub(crate) const BODY_BUDGET_KIB: usize = 4 * MAX_BODY / 1024;
/// How long a report waits for its share before it is refused as `busy`.
const BUDGET_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// Longest URL or source kept from a report (the rest is cut, never refused).
const MAX_TEXT: usize = 2048;
/// The headers GitHub signs reports with.
const KEY_IDENTIFIER: &str = "github-public-key-identifier";
const KEY_SIGNATURE: &str = "github-public-key-signature";

/// Why a report is refused: problem+json with a stable `code`.
#[derive(Debug)]
pub(crate) enum LeakError {
    /// The signature headers are missing, repeated, or do not verify (401).
    Unsigned(&'static str),
    /// The body is not JSON (415).
    UnsupportedMediaType,
    /// The body is larger than 4 MiB (413).
    PayloadTooLarge,
    /// The body did not arrive in time (408).
    RequestTimeout,
    /// The body is not a JSON array of report items (400).
    BadRequest(String),
    /// More than 1,000 items (400).
    TooManyItems,
    /// Too many refused reports from this address (429 with `Retry-After`).
    TooManyRequests(u64),
    /// The reports being read hold the whole [`BODY_BUDGET_KIB`] (503 with `Retry-After: 1`).
    Busy,
    /// Internal failure (500); logged, never described.
    Internal,
}

impl IntoResponse for LeakError {
    fn into_response(self) -> Response {
        let (status, code, detail) = match &self {
            Self::Unsigned(detail) => (
                StatusCode::UNAUTHORIZED,
                "invalid_signature",
                (*detail).to_owned(),
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Content-Type must be application/json".to_owned(),
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the report is larger than 4 MiB".to_owned(),
            ),
            Self::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the report did not arrive in time".to_owned(),
            ),
            Self::BadRequest(detail) => {
                (StatusCode::BAD_REQUEST, "invalid_request", detail.clone())
            }
            Self::TooManyItems => (
                StatusCode::BAD_REQUEST,
                "too_many_items",
                format!("a report holds at most {MAX_ITEMS} items"),
            ),
            Self::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many refused reports from this address; retry later".to_owned(),
            ),
            Self::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "other reports are being read; retry in a second".to_owned(),
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred".to_owned(),
            ),
        };
        let retry_after = match self {
            Self::TooManyRequests(seconds) => Some(seconds),
            Self::Busy => Some(1),
            _ => None,
        };
        let problem = Problem {
            status,
            code,
            detail: &detail,
            field: None,
        };
        problem.respond("Signature realm=\"countersign-leak-report\"", retry_after)
    }
}

impl From<countersign_store::StoreError> for LeakError {
    fn from(error: countersign_store::StoreError) -> Self {
        tracing::error!(%error, source = ?std::error::Error::source(&error), "store failure handling a leak report");
        Self::Internal
    }
}

/// One reported credential.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LeakItem {
    /// The credential as found.
    token: String,
    /// The scanner's name for its type.
    #[serde(rename = "type")]
    token_type: String,
    /// Where it was found.
    #[serde(default)]
    url: Option<String>,
    /// The kind of place (e.g. `content`, `commit`).
    #[serde(default)]
    source: Option<String>,
}

/// The label of one reported credential.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LeakLabel {
    /// The credential as reported.
    token_raw: String,
    /// Its type as reported.
    token_type: String,
    /// `true_positive` when it is a credential this server issued, else `false_positive`.
    label: &'static str,
}

/// Reads a report: signature headers (before the body, when keys are configured), then the
/// body within [`MAX_BODY`] and the shared budget, its signature, and at most [`MAX_ITEMS`] items
/// (the rest of a longer array is skipped without being kept, then refused). The budget's share
/// is held until the report is answered.
async fn read_report(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<(Vec<LeakItem>, Option<OwnedSemaphorePermit>), LeakError> {
    if state.leak_keys.is_some() {
        signature_headers(headers)?;
    }
    if !crate::request_parts::has_media_type(headers, "application/json") {
        return Err(LeakError::UnsupportedMediaType);
    }
    // A body announced past MAX_BODY is still read up to it, then refused: a client that is
    // still sending when the answer comes would see a reset connection, not the 413.
    let (body, share) = read_within_budget(body, &state.leak_report_budget).await?;
    check_signature(state, headers, &body)?;
    let report: BoundedItems = serde_json::from_slice(&body).map_err(|error| {
        LeakError::BadRequest(format!(
            "the body must be a JSON array of {{\"token\", \"type\", \"url\", \"source\"}} (line {}, column {})",
            error.line(),
            error.column()
        ))
    })?;
    if report.beyond {
        return Err(LeakError::TooManyItems);
    }
    Ok((report.items, share))
}

/// The body, at most [`MAX_BODY`], taking a KiB of `budget` for each KiB as it arrives (waiting
/// at most [`BUDGET_WAIT`] for it).
async fn read_within_budget(
    mut body: axum::body::Body,
    budget: &Arc<Semaphore>,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), LeakError> {
    use hyper::body::Body as _;
    let mut buffer = Vec::new();
    let mut share: Option<OwnedSemaphorePermit> = None;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|error| {
            if crate::connections::body_too_slow(&error) {
                LeakError::RequestTimeout
            } else {
                LeakError::BadRequest("the body could not be read".to_owned())
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buffer.len() + data.len() > MAX_BODY {
            return Err(LeakError::PayloadTooLarge);
        }
        let held = share.as_ref().map_or(0, |permit| permit.num_permits());
        let needed = (buffer.len() + data.len())
            .div_ceil(1024)
            .saturating_sub(held);
        if needed > 0 {
            let more = u32::try_from(needed).map_err(|_| LeakError::PayloadTooLarge)?;
            let granted =
                tokio::time::timeout(BUDGET_WAIT, budget.clone().acquire_many_owned(more))
                    .await
                    .map_err(|_| LeakError::Busy)?
                    .map_err(|_| LeakError::Internal)?;
            match &mut share {
                Some(permit) => permit.merge(granted),
                None => share = Some(granted),
            }
        }
        buffer.extend_from_slice(&data);
    }
    Ok((Bytes::from(buffer), share))
}

/// A report's items, at most [`MAX_ITEMS`] kept; `beyond` when the array held more.
struct BoundedItems {
    items: Vec<LeakItem>,
    beyond: bool,
}

impl<'de> Deserialize<'de> for BoundedItems {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Items;
        impl<'de> serde::de::Visitor<'de> for Items {
            type Value = BoundedItems;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a JSON array of report items")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<BoundedItems, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_ITEMS));
                while items.len() < MAX_ITEMS {
                    match seq.next_element::<LeakItem>()? {
                        Some(item) => items.push(item),
                        None => {
                            return Ok(BoundedItems {
                                items,
                                beyond: false,
                            });
                        }
                    }
                }
                let mut beyond = false;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    beyond = true;
                }
                Ok(BoundedItems { items, beyond })
            }
        }
        deserializer.deserialize_seq(Items)
    }
}

/// The value of a header sent at most once; a repeated header is refused.
fn single_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, LeakError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(LeakError::Unsigned("a signature header is repeated"));
    }
    first
        .map(|value| {
            value
                .to_str()
                .map_err(|_| LeakError::Unsigned("a signature header is not text"))
        })
        .transpose()
}

/// The signature headers, each sent exactly once.
fn signature_headers(headers: &HeaderMap) -> Result<(&str, &str), LeakError> {
    let identifier = single_header(headers, KEY_IDENTIFIER)?;
    let signature = single_header(headers, KEY_SIGNATURE)?;
    match (identifier, signature) {
        (Some(identifier), Some(signature)) => Ok((identifier, signature)),
        _ => Err(LeakError::Unsigned(
            "the report must carry Github-Public-Key-Identifier and Github-Public-Key-Signature",
        )),
    }
}

fn check_signature(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), LeakError> {
    use crate::leak_keys::SignatureError;
    let Some(keys) = &state.leak_keys else {
        return Ok(());
    };
    let (identifier, signature) = signature_headers(headers)?;
    keys.current()
        .verify(identifier, signature, body)
        .map_err(|error| {
            LeakError::Unsigned(match error {
                SignatureError::UnknownKey => "the signing key is not one of the configured keys",
                SignatureError::Malformed => "the signature is not base64 of a DER ECDSA signature",
                SignatureError::Mismatch => "the signature does not match the report",
            })
        })
}

fn bounded(text: Option<&str>) -> Option<String> {
    text.map(|t| t.chars().take(MAX_TEXT).collect())
        .filter(|t: &String| !t.is_empty())
}

/// What a reported credential is.
enum Reported {
    /// Not a credential of this server: wrong prefix, bad checksum, bad signature.
    Foreign,
    /// A well-formed key: its digest, looked up with the others.
    Key(String),
    /// A session token with a valid signature; `None` when it has expired.
    Session(Option<(ApiUserId, ApiKeyId, UserId)>),
}

fn classify(state: &AppState, token_text: &str, now: i64) -> Reported {
    let text = token_text.trim();
    if text.starts_with(countersign_core::key::KEY_PREFIX) {
        // The checksum first: a mistyped or invented key costs no digest and no lookup.
        return match ApiKey::parse(text) {
            Ok(key) => Reported::Key(key.digest(&state.secrets.pepper)),
            Err(_) => Reported::Foreign,
        };
    }
    if text.starts_with(token::TOKEN_PREFIX) {
        return match token::verify(text, now, |kid| {
            state.secrets.signing.get(&kid).map(Vec::as_slice)
        }) {
            Ok(claims) => {
                Reported::Session(Some((claims.api_user_id, claims.key_id, claims.user_id)))
            }
            Err(TokenError::Expired) => Reported::Session(None),
            Err(_) => Reported::Foreign,
        };
    }
    Reported::Foreign
}

/// Receives a secret-scanning report (GitHub's partner format): every `csk_` key that matches
/// a stored key has its API user revoked at once (or, by the organization's policy, the
/// organization notified), audited as `api_user.key_leaked` with the report's URL; every valid
/// `cst_` session token ends the sessions of its (API user, key, user). Signed with a
/// configured public key when `leak_report.public_keys_file` is set.
#[utoipa::path(post, path = "/v1/credentials/leaked", tag = "forward-auth",
    request_body(content = Vec<LeakItem>, description = "At most 1,000 items"),
    params(
        ("Github-Public-Key-Identifier" = Option<String>, Header, description = "The signing key's identifier (required when public keys are configured)"),
        ("Github-Public-Key-Signature" = Option<String>, Header, description = "Base64 DER ECDSA P-256 signature of the raw body (required when public keys are configured)"),
    ),
    responses(
        (status = 200, body = Vec<LeakLabel>),
        (status = 400, description = "Not a JSON array of items, or more than 1,000 (problem+json)"),
        (status = 401, description = "Unsigned or badly signed (problem+json)"),
        (status = 413, description = "A body over 4 MiB (problem+json)"),
        (status = 503, description = "The reports being read hold 16 MiB; retry after `Retry-After` (problem+json)"),
    ))]
pub async fn report_leaked(
    State(state): State<AppState>,
    peer: crate::request_parts::Peer,
    request: Request,
) -> Result<Json<Vec<LeakLabel>>, LeakError> {
    let (parts, body) = request.into_parts();
    let source_ip = client_ip(&parts.headers, peer.0, state.config.trust_forwarded_for);
    let throttle_keys: Vec<ThrottleKey> = source_ip
        .iter()
        .map(|ip| ThrottleKey::SourceIp(ip.clone()))
        .collect();
    if let Some(wait) = state.throttle.check(&throttle_keys, state.now()) {
        return Err(LeakError::TooManyRequests(wait));
    }
    // The budget's share is held until the report is answered: its body and items stay in
    // memory until then.
    let (items, _share) = match read_report(&state, &parts.headers, body).await {
        Ok(read) => read,
        // Busy is the server's state, not the sender's failure.
        Err(LeakError::Busy) => return Err(LeakError::Busy),
        Err(refused) => {
            // A stranger cannot make the server parse refused reports without end.
            state.throttle.record_failure(&throttle_keys, state.now());
            return Err(refused);
        }
    };
    let now = state.now().unix_timestamp();
    let reported: Vec<Reported> = items
        .iter()
        .map(|item| classify(&state, &item.token, now))
        .collect();
    let digests: Vec<String> = reported
        .iter()
        .filter_map(|r| match r {
            Reported::Key(digest) => Some(digest.clone()),
            _ => None,
        })
        .collect();
    let owners: BTreeMap<String, _> = state
        .store
        .find_keys_by_digests(&digests)
        .await?
        .into_iter()
        .collect();
    let mut labels = Vec::with_capacity(items.len());
    let mut keys_handled = BTreeSet::new();
    let mut sessions_handled = BTreeSet::new();
    for (item, reported) in items.into_iter().zip(reported) {
        let context = || LeakContext {
            url: bounded(item.url.as_deref()),
            source: bounded(item.source.as_deref()),
            source_ip: source_ip.clone(),
        };
        let genuine = match reported {
            Reported::Foreign => false,
            Reported::Key(digest) => match owners.get(&digest) {
                None => false,
                Some(owner) => {
                    if keys_handled.insert((owner.api_user_id, owner.key_id)) {
                        handled(
                            state
                                .ops()
                                .key_leaked(owner.api_user_id, owner.key_id, &context())
                                .await,
                        )?;
                    }
                    true
                }
            },
            Reported::Session(None) => true,
            Reported::Session(Some(session)) => {
                if sessions_handled.insert(session) {
                    let (api_user, key, user) = session;
                    handled(
                        state
                            .ops()
                            .session_leaked(api_user, key, user, &context())
                            .await,
                    )?;
                }
                true
            }
        };
        labels.push(LeakLabel {
            token_raw: item.token,
            token_type: item.token_type,
            label: if genuine {
                "true_positive"
            } else {
                "false_positive"
            },
        });
    }
    Ok(Json(labels))
}

/// A credential whose owner was deleted meanwhile needs nothing more; a store failure is a 500
/// (the scanner sends the report again).
fn handled<T>(result: Result<T, crate::ops::OpError>) -> Result<(), LeakError> {
    match result {
        Ok(_) | Err(crate::ops::OpError::NotFound(_)) => Ok(()),
        Err(error) => {
            tracing::error!(%error, source = ?std::error::Error::source(&error), "a leaked credential could not be handled");
            Err(LeakError::Internal)
        }
    }
}

//! AssureSign DocumentNOW v3: `POST /api/v3.{N}/authentication/apiUser` (token exchange),
//! `GET /api/v3.{N}/users/{username}/accounts` (account discovery, also under the DocumentNOW
//! host's prefix `/api/documentnow/v3.{N}/…`) and `GET /api/v3.{N}/users/{username}/environments`.

use crate::dialect::assuresign::AssureSignPath;
use crate::dialect::assuresign::{AssureSignError, AssureSignJson};
use crate::issue::{self, TokenRequest};
use crate::state::AppState;
use crate::verify::request::client_ip;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use countersign_core::secret::Secret;
use serde::Serialize;
use serde_json::Value;

/// Longest accepted API username, key or context username in a token request, in bytes.
const MAX_FIELD_BYTES: usize = 1024;

/// Checks that the path's version segment is `v3.0` to `v3.9`.
fn check_version(version: &str) -> Result<(), AssureSignError> {
    let bytes = version.as_bytes();
    if bytes.len() == 4 && bytes[..3].eq_ignore_ascii_case(b"v3.") && bytes[3].is_ascii_digit() {
        Ok(())
    } else {
        Err(AssureSignError::BadRequest(vec![format!(
            "Unsupported API version '{}'.",
            version.chars().take(16).collect::<String>()
        )]))
    }
}

/// Looks a property up case-insensitively (SPEC §4: field names match in any case).
fn property<'v>(object: &'v serde_json::Map<String, Value>, name: &str) -> Option<&'v Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// The start of the error an object that names a member twice is refused with.
const TWICE: &str = "a property is named twice";

/// The token request read as a JSON value whose root object, and its `request` object, name no
/// member twice in any case: names match in any case (SPEC §4), so `{"apiUsername": "a",
/// "APIUSERNAME": "b"}` would be two values for one field, and which one was meant cannot be
/// known (a plain `Value` keeps one of them silently). Other objects are not read, so their
/// names are left alone, as unknown properties are.
struct Unambiguous(Value);

impl<'de> serde::Deserialize<'de> for Unambiguous {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Names::Root).map(Self)
    }
}

/// Which object is being read: the root, the root's `request`, or anything else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Names {
    Root,
    Request,
    Free,
}

impl<'de> serde::de::DeserializeSeed<'de> for Names {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Names {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }
    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }
    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }
    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Names::Free)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = serde_json::Map::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if self != Self::Free && !seen.insert(name.to_ascii_lowercase()) {
                return Err(serde::de::Error::custom(TWICE));
            }
            let inner = if self == Self::Root && name.eq_ignore_ascii_case("request") {
                Self::Request
            } else {
                Self::Free
            };
            let value = map.next_value_seed(inner)?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

/// The token request's own fields, which belong in `request` when there is one.
const FIELDS: [&str; 4] = [
    "apiUsername",
    "key",
    "contextUsername",
    "sessionLengthInMinutes",
];

/// Parses the token request body (fields validated in the order the dialect reports them).
pub fn parse_token_request(
    body: &[u8],
    default_minutes: i64,
    max_minutes: i64,
) -> Result<TokenRequest, AssureSignError> {
    let bad = |detail: &str| AssureSignError::BadRequest(vec![detail.to_owned()]);
    let Unambiguous(value) = serde_json::from_slice(body).map_err(|error: serde_json::Error| {
        if error.to_string().starts_with(TWICE) {
            bad("A property is named twice (names match in any case).")
        } else {
            bad("The request body is not valid JSON.")
        }
    })?;
    let Value::Object(root) = value else {
        return Err(bad("The request body must be a JSON object."));
    };
    let request = match property(&root, "request") {
        Some(Value::Object(_)) if FIELDS.iter().any(|name| property(&root, name).is_some()) => {
            return Err(bad(
                "The fields belong in 'Request'; some are also outside it.",
            ));
        }
        Some(Value::Object(request)) => request,
        Some(Value::Null) | None => &root,
        Some(_) => return Err(bad("'Request' must be an object.")),
    };
    let mut details = Vec::new();
    let mut text = |name: &'static str, label: &str| -> Option<String> {
        match property(request, name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                if s.len() > MAX_FIELD_BYTES {
                    details.push(format!("'{label}' is too long."));
                    None
                } else if s.chars().any(char::is_control) {
                    // No name, key or user has one; NUL could not even be looked up.
                    details.push(format!("'{label}' must not contain control characters."));
                    None
                } else {
                    Some(s.trim().to_owned())
                }
            }
            Some(Value::String(_) | Value::Null) | None => {
                details.push(format!("'{label}' should not be empty."));
                None
            }
            Some(_) => {
                details.push(format!("'{label}' must be a string."));
                None
            }
        }
    };
    let api_username = text("apiUsername", "ApiUsername");
    let key = text("key", "Key");
    let context_username = text("contextUsername", "ContextUsername");
    let session_minutes = match property(request, "sessionLengthInMinutes") {
        None | Some(Value::Null) => Some(default_minutes),
        Some(Value::Number(number)) => {
            let minutes = number.as_i64().or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e12)
                    .map(|f| f as i64)
            });
            match minutes {
                Some(m) if (1..=max_minutes).contains(&m) => Some(m),
                _ => {
                    details.push(format!(
                        "'SessionLengthInMinutes' must be between 1 and {max_minutes}."
                    ));
                    None
                }
            }
        }
        Some(_) => {
            details.push(format!(
                "'SessionLengthInMinutes' must be between 1 and {max_minutes}."
            ));
            None
        }
    };
    match (api_username, key, context_username, session_minutes) {
        (Some(api_username), Some(key), Some(context_username), Some(session_minutes))
            if details.is_empty() =>
        {
            Ok(TokenRequest {
                api_username,
                key: Secret::new(key),
                context_username,
                session_minutes,
            })
        }
        _ => Err(AssureSignError::BadRequest(details)),
    }
}

/// The token exchange response: `token` for v3.0–3.6 clients, `result.token` for v3.7.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The session token.
    token: String,
    /// The token again, with its expiry.
    result: TokenResult,
    /// Always empty on success.
    messages: Vec<String>,
}

/// The `result` member of a token response.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResult {
    /// The session token.
    token: String,
    /// RFC 3339 expiry.
    expires_at: String,
}

/// The body of a token exchange.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(
    dead_code,
    reason = "documents the request shape for OpenAPI; parsing is case-insensitive by hand"
)]
pub struct TokenRequestBody {
    /// The credentials.
    request: TokenRequestFields,
}

/// The fields of a token exchange (names match in any case; unknown ones are ignored).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(dead_code, reason = "documents the request shape for OpenAPI")]
pub struct TokenRequestFields {
    /// The API user's username.
    api_username: String,
    /// The API user's key (`csk_…`).
    key: String,
    /// Email of the user to act for.
    context_username: String,
    /// 1–1440 (configurable), default 60; clamped to the API user's expiry.
    session_length_in_minutes: Option<i64>,
}

/// Exchanges an API user's key for a session token.
#[utoipa::path(
    post,
    path = "/api/{version}/authentication/apiUser",
    tag = "assuresign",
    params(("version" = String, Path, description = "v3.0 to v3.9")),
    request_body = TokenRequestBody,
    responses(
        (status = 200, description = "A session token", body = TokenResponse, content_type = "application/json; charset=utf-8"),
        (status = 400, description = "Missing field, malformed JSON, a property named twice (in any case), fields both inside and outside request, or a control character (BAD_REQUEST)"),
        (status = 401, description = "Invalid key or API user (UNAUTHORIZED)"),
        (status = 403, description = "Context user unknown, disabled or outside the scope (FORBIDDEN)"),
        (status = 413, description = "Body too large"),
        (status = 415, description = "Content-Type is not application/json"),
        (status = 429, description = "Too many failures"),
    )
)]
pub async fn exchange_api_user_key(
    State(state): State<AppState>,
    AssureSignPath(version): AssureSignPath<String>,
    peer: crate::request_parts::Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<AssureSignJson<TokenResponse>, AssureSignError> {
    check_version(&version)?;
    if !crate::request_parts::has_media_type(&headers, "application/json") {
        return Err(AssureSignError::UnsupportedMediaType);
    }
    let bytes = to_bytes(body, state.config.auth_body_limit)
        .await
        .map_err(|error| {
            if crate::connections::body_too_slow(&error) {
                AssureSignError::RequestTimeout
            } else {
                AssureSignError::PayloadTooLarge
            }
        })?;
    let request = parse_token_request(
        &bytes,
        state.config.session_default_minutes,
        state.config.session_max_minutes,
    )?;
    let source_ip = client_ip(&headers, peer.0, state.config.trust_forwarded_for);
    let issued = issue::issue_token(&state, request, source_ip.as_deref()).await?;
    let expires_at = issued
        .expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|_| AssureSignError::Internal)?;
    let token = issued.token.expose().to_owned();
    Ok(AssureSignJson(TokenResponse {
        token: token.clone(),
        result: TokenResult { token, expires_at },
        messages: Vec::new(),
    }))
}

/// One account in the discovery response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserAccount {
    /// The account context identifier.
    #[serde(rename = "accountID")]
    account_id: String,
    /// The account's name.
    #[serde(rename = "accountName")]
    account_name: String,
    /// Whether it is the user's default account.
    #[serde(rename = "isDefault")]
    is_default: bool,
    /// Whether the account is disabled (never: disabled accounts are not listed).
    #[serde(rename = "isDisabled")]
    is_disabled: bool,
}

/// The discovery response body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountsResponse {
    /// Always empty on success.
    messages: Vec<String>,
    /// The accounts.
    result: AccountsResult,
}

/// The `result` of the discovery response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountsResult {
    /// Accounts the token may use for the user.
    #[serde(rename = "userAccounts")]
    user_accounts: Vec<UserAccount>,
}

/// Lists the accounts a token may use for a user.
#[utoipa::path(
    get,
    path = "/api/{version}/users/{username}/accounts",
    tag = "assuresign",
    params(
        ("version" = String, Path, description = "v3.0 to v3.9"),
        ("username" = String, Path, description = "The token's context user"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The accounts", body = AccountsResponse, content_type = "application/json; charset=utf-8"),
        (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "The username is not the token's context user"),
    )
)]
pub async fn list_user_accounts(
    State(state): State<AppState>,
    AssureSignPath((version, username)): AssureSignPath<(String, String)>,
    peer: crate::request_parts::Peer,
    headers: HeaderMap,
) -> Result<AssureSignJson<AccountsResponse>, AssureSignError> {
    user_accounts(&state, &version, &username, peer, &headers).await
}

/// Lists the accounts a token may use for a user, under the DocumentNOW host's prefix (the path
/// the published PHP SDK uses); the same answers as `/api/{version}/users/{username}/accounts`.
#[utoipa::path(
    get,
    path = "/api/documentnow/{version}/users/{username}/accounts",
    tag = "assuresign",
    params(
        ("version" = String, Path, description = "v3.0 to v3.9"),
        ("username" = String, Path, description = "The token's context user"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The accounts", body = AccountsResponse, content_type = "application/json; charset=utf-8"),
        (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "The username is not the token's context user"),
    )
)]
pub async fn list_user_accounts_documentnow(
    State(state): State<AppState>,
    AssureSignPath((version, username)): AssureSignPath<(String, String)>,
    peer: crate::request_parts::Peer,
    headers: HeaderMap,
) -> Result<AssureSignJson<AccountsResponse>, AssureSignError> {
    user_accounts(&state, &version, &username, peer, &headers).await
}

/// The accounts answer shared by both discovery paths.
async fn user_accounts(
    state: &AppState,
    version: &str,
    username: &str,
    peer: crate::request_parts::Peer,
    headers: &HeaderMap,
) -> Result<AssureSignJson<AccountsResponse>, AssureSignError> {
    let session = context_session(state, version, username, peer, headers).await?;
    let user_accounts = in_scope(&session)
        .map(|m| UserAccount {
            account_id: m.account_id.to_string(),
            account_name: m.account_name.clone(),
            is_default: m.is_default,
            is_disabled: false,
        })
        .collect();
    Ok(AssureSignJson(AccountsResponse {
        messages: Vec::new(),
        result: AccountsResult { user_accounts },
    }))
}

/// Verifies the bearer token and checks that `username` names its context user.
async fn context_session(
    state: &AppState,
    version: &str,
    username: &str,
    peer: crate::request_parts::Peer,
    headers: &HeaderMap,
) -> Result<crate::verify::bearer::Session, AssureSignError> {
    check_version(version)?;
    let request = state.verifier.read(headers, peer.0);
    let session = state.verifier.bearer_session(&request).await?;
    if username.trim().to_lowercase() != session.user().email.to_lowercase() {
        return Err(AssureSignError::Forbidden(
            "The username is not the token's context user.",
        ));
    }
    Ok(session)
}

/// The memberships of the session's user that its scope admits.
fn in_scope(
    session: &crate::verify::bearer::Session,
) -> impl Iterator<Item = &countersign_core::directory::Membership> {
    session
        .memberships()
        .iter()
        .filter(|m| session.scope().admits_account(m))
}

/// One environment in the environments response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserEnvironment {
    /// The environment's id.
    #[serde(rename = "environmentID")]
    environment_id: String,
    /// The environment's name.
    name: String,
    /// `production` or `sandbox`.
    kind: String,
    /// Whether it holds the user's default account (among the accounts in scope).
    #[serde(rename = "isDefault")]
    is_default: bool,
}

/// The environments response body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EnvironmentsResponse {
    /// Always empty on success.
    messages: Vec<String>,
    /// The environments.
    result: EnvironmentsResult,
}

/// The `result` of the environments response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EnvironmentsResult {
    /// Environments holding the accounts the token may use for the user.
    environments: Vec<UserEnvironment>,
}

/// Lists the environments holding the accounts a token may use for a user.
#[utoipa::path(
    get,
    path = "/api/{version}/users/{username}/environments",
    tag = "assuresign",
    params(
        ("version" = String, Path, description = "v3.0 to v3.9"),
        ("username" = String, Path, description = "The token's context user"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The environments", body = EnvironmentsResponse, content_type = "application/json; charset=utf-8"),
        (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "The username is not the token's context user"),
    )
)]
pub async fn list_user_environments(
    State(state): State<AppState>,
    AssureSignPath((version, username)): AssureSignPath<(String, String)>,
    peer: crate::request_parts::Peer,
    headers: HeaderMap,
) -> Result<AssureSignJson<EnvironmentsResponse>, AssureSignError> {
    let session = context_session(&state, &version, &username, peer, &headers).await?;
    // Environment ids are UUIDv7, so sorting them lists environments in creation order.
    let mut held: Vec<(countersign_core::ids::EnvironmentId, bool)> = Vec::new();
    for membership in in_scope(&session) {
        match held
            .iter_mut()
            .find(|(id, _)| *id == membership.environment_id)
        {
            Some((_, is_default)) => *is_default |= membership.is_default,
            None => held.push((membership.environment_id, membership.is_default)),
        }
    }
    held.sort_by_key(|(id, _)| *id);
    let organization = session.user().organization_id;
    let mut environments = Vec::with_capacity(held.len());
    for (id, is_default) in held {
        let environment = state.store.fetch(organization, id).await.map_err(|error| {
            tracing::error!(%error, "loading an environment for discovery failed");
            AssureSignError::Internal
        })?;
        environments.push(UserEnvironment {
            environment_id: environment.id.to_string(),
            name: environment.name,
            kind: environment.kind.as_str().to_owned(),
            is_default,
        });
    }
    Ok(AssureSignJson(EnvironmentsResponse {
        messages: Vec::new(),
        result: EnvironmentsResult { environments },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_property_named_twice_in_any_case_is_refused() {
        let fields = r#""key": "k", "contextUsername": "bob", "sessionLengthInMinutes": 60"#;
        for body in [
            format!(r#"{{"request": {{"apiUsername": "a", "APIUSERNAME": "b", {fields}}}}}"#),
            format!(r#"{{"request": {{"apiUsername": "a", "apiUsername": "b", {fields}}}}}"#),
            format!(r#"{{"request": {{"apiUsername": "a", {fields}}}, "Request": {{}}}}"#),
            format!(r#"{{"apiUsername": "a", "key": "k2", {fields}}}"#),
            format!(
                r#"{{"$serde_json::private::RawValue": "1", "apiUsername": "a", "APIUSERNAME": "b", {fields}}}"#
            ),
        ] {
            let Err(AssureSignError::BadRequest(details)) =
                parse_token_request(body.as_bytes(), 60, 1440)
            else {
                panic!("accepted: {body}");
            };
            assert_eq!(
                details,
                ["A property is named twice (names match in any case)."]
            );
        }
        // Names that differ are read, nested ones too; objects that are not read may repeat
        // a name, as unknown properties are ignored.
        let body = format!(
            r#"{{"request": {{"apiUsername": "a", "x": [{{"k": 1}}, {{"k": 2}}], "m": {{"id": 1, "ID": 2}}, {fields}}}, "meta": {{"a": 1, "a": 2}}}}"#
        );
        assert!(parse_token_request(body.as_bytes(), 60, 1440).is_ok());
        // The fields are read in `request` or at the root, never both.
        let both =
            format!(r#"{{"request": {{"apiUsername": "a", {fields}}}, "ApiUsername": "x"}}"#);
        assert!(matches!(
            parse_token_request(both.as_bytes(), 60, 1440),
            Err(AssureSignError::BadRequest(details)) if details[0].contains("outside")
        ));
        // The serde_json private name for raw values is a name like any other.
        let raw = format!(
            r#"{{"$serde_json::private::RawValue": "{{}}", "apiUsername": "a", {fields}}}"#
        );
        assert!(parse_token_request(raw.as_bytes(), 60, 1440).is_ok());
    }

    #[test]
    fn seed_body_parses_byte_for_byte() {
        let body = br#"{    "request": {    "apiUsername": "NewAPIUser",    "key": "vY+ak1310/yTfjN8qhoxEkjN1bX1Ev99",    "contextUsername": "bob@mycompany.com",    "sessionLengthInMinutes": 60    }}"#;
        let request = parse_token_request(body, 60, 1440).expect("parses");
        assert_eq!(request.api_username, "NewAPIUser");
        assert_eq!(request.context_username, "bob@mycompany.com");
        assert_eq!(request.session_minutes, 60);
    }

    #[test]
    fn missing_fields_are_all_reported() {
        let error = parse_token_request(br#"{"request": {}}"#, 60, 1440).err();
        assert_eq!(
            error,
            Some(AssureSignError::BadRequest(vec![
                "'ApiUsername' should not be empty.".into(),
                "'Key' should not be empty.".into(),
                "'ContextUsername' should not be empty.".into(),
            ]))
        );
    }

    #[test]
    fn field_names_match_in_any_case() {
        let body = br#"{"REQUEST": {"APIUSERNAME": "a", "Key": "k", "contextusername": "c"}}"#;
        assert_eq!(
            parse_token_request(body, 60, 1440)
                .map(|r| r.session_minutes)
                .ok(),
            Some(60)
        );
    }
}

//! DocuSign `login_information` (v2 and v2.1): the accounts of the user a legacy header
//! authenticates — or, with Send-On-Behalf-Of, of the user acted for, within the actor's
//! rights — and API passwords (SPEC §5).

use crate::dialect::docusign::{DocuSignError, DocuSignResponse};
use crate::passwords;
use crate::request_parts::Peer;
use crate::secrets::random_bytes;
use crate::state::AppState;
use crate::verify::docusign::{ActedFor, LegacyFacts, record_use};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use countersign_core::decide;
use countersign_core::directory::{Membership, Permissions, User};
use countersign_store::AuditOutcome;
use serde::Serialize;
use std::sync::Arc;

/// A Send-On-Behalf-Of request `login_information` refuses, audited with the real actor.
async fn sobo_denied(
    state: &AppState,
    auth: &LegacyFacts,
    source_ip: Option<&str>,
) -> DocuSignError {
    let name = auth
        .on_behalf_of
        .as_ref()
        .map_or("-", |target| target.name.as_str());
    state
        .verifier
        .audit_event(
            Some(auth.user.organization_id),
            &auth.user.email,
            "legacy.sobo",
            name,
            source_ip,
            AuditOutcome::Denied,
        )
        .await;
    DocuSignError::LacksPermissions
}

/// One account of `login_information`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginAccount {
    /// Account name.
    name: String,
    /// Numeric account id.
    account_id: String,
    /// `{public_url}/restapi/v2[.1]/accounts/{accountId}`.
    base_url: String,
    /// `"true"` or `"false"`.
    is_default: String,
    /// The user's name.
    user_name: String,
    /// The user's id.
    user_id: String,
    /// The user's email.
    email: String,
    /// Always empty.
    site_description: String,
    /// The account's UUID, with `include_account_id_guid=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id_guid: Option<String>,
    /// With `login_settings=all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    login_account_settings: Option<Vec<NameValue>>,
    /// With `login_settings=all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    login_user_settings: Option<Vec<NameValue>>,
}

/// A setting.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NameValue {
    /// Name.
    name: String,
    /// Value (`"true"`/`"false"`).
    value: String,
}

/// The `login_information` response.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginInformation {
    /// The user's accounts, default first.
    login_accounts: Vec<LoginAccount>,
    /// A new API password, with `api_password=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_password: Option<String>,
}

/// Options of `login_information`, from a query string whose values match in any case.
#[derive(Debug, Default)]
struct LoginOptions {
    api_password: bool,
    include_account_id_guid: bool,
    login_settings: bool,
}

fn login_options(query: Option<&str>) -> Result<LoginOptions, DocuSignError> {
    let mut options = LoginOptions::default();
    let Some(query) = query else {
        return Ok(options);
    };
    if query.len() > 2048 {
        return Err(DocuSignError::InvalidRequest(
            "The query string is too long.",
        ));
    }
    let unreadable =
        DocuSignError::InvalidRequest("A query parameter is empty, repeated or does not decode.");
    let pairs = countersign_core::form::pairs(query, 16).map_err(|_| unreadable.clone())?;
    let mut read = [false; 3];
    for (name, value) in pairs {
        let value = value.to_ascii_lowercase();
        let (index, option, on) = match name.to_ascii_lowercase().as_str() {
            "api_password" => (0, &mut options.api_password, value == "true"),
            "include_account_id_guid" => (1, &mut options.include_account_id_guid, value == "true"),
            "login_settings" => (2, &mut options.login_settings, value == "all"),
            _ => continue,
        };
        if std::mem::replace(&mut read[index], true) {
            return Err(unreadable);
        }
        *option = on;
    }
    Ok(options)
}

async fn login_information_for(
    state: AppState,
    version: &'static str,
    peer: Peer,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    let result = async {
        let options = login_options(query.as_deref())?;
        let request = state.verifier.read(&headers, peer.0);
        let auth = state.verifier.docusign_user(&request).await?;
        let source_ip = request.source_ip();
        let (user, memberships): (Arc<User>, Vec<&Membership>) = match auth
            .on_behalf_of
            .as_ref()
            .and_then(|target| target.user.as_ref())
        {
            None if auth.on_behalf_of.is_some() => {
                return Err(sobo_denied(&state, &auth, source_ip.as_deref()).await);
            }
            None => {
                record_use(
                    &state.verifier,
                    &auth,
                    None,
                    None,
                    source_ip.as_deref(),
                    request.user_agent,
                );
                (auth.user.clone(), auth.memberships.iter().collect())
            }
            Some(ActedFor { user: target, .. }) => {
                // Never further than the actor's own rights, and never a credential for
                // the user acted for (SPEC §5).
                let accounts =
                    decide::on_behalf_of_accounts(&auth.memberships, auth.on_behalf_of());
                if options.api_password || accounts.is_empty() {
                    return Err(sobo_denied(&state, &auth, source_ip.as_deref()).await);
                }
                record_use(
                    &state.verifier,
                    &auth,
                    Some(target.id),
                    None,
                    source_ip.as_deref(),
                    request.user_agent,
                );
                state
                    .verifier
                    .audit_event(
                        Some(auth.user.organization_id),
                        &auth.user.email,
                        "legacy.sobo",
                        &target.id.to_string(),
                        source_ip.as_deref(),
                        AuditOutcome::Success,
                    )
                    .await;
                (target.clone(), accounts)
            }
        };
        let api_password = if options.api_password {
            Some(new_api_password(&state, &user, source_ip.as_deref()).await?)
        } else {
            None
        };
        let public_url = &state.config.public_url;
        let login_accounts = memberships
            .iter()
            .map(|m| {
                let settings = options.login_settings.then(|| {
                    let flag = |p: Permissions| {
                        if m.permissions.contains(p) {
                            "true"
                        } else {
                            "false"
                        }
                        .to_owned()
                    };
                    vec![
                        NameValue {
                            name: "canSendEnvelope".into(),
                            value: flag(Permissions::SEND),
                        },
                        NameValue {
                            name: "allowSendOnBehalfOf".into(),
                            value: flag(Permissions::SOBO),
                        },
                        NameValue {
                            name: "allowAccountWide".into(),
                            value: flag(Permissions::ACCOUNT_WIDE),
                        },
                        NameValue {
                            name: "canManageAccount".into(),
                            value: flag(Permissions::ADMIN),
                        },
                    ]
                });
                LoginAccount {
                    name: m.account_name.clone(),
                    account_id: m.account_number.clone(),
                    base_url: format!(
                        "{public_url}/restapi/{version}/accounts/{}",
                        m.account_number
                    ),
                    is_default: m.is_default.to_string(),
                    user_name: user.name.clone(),
                    user_id: user.id.to_string(),
                    email: user.email.clone(),
                    site_description: String::new(),
                    account_id_guid: options
                        .include_account_id_guid
                        .then(|| m.account_id.to_string()),
                    login_account_settings: options.login_settings.then(Vec::new),
                    login_user_settings: settings,
                }
            })
            .collect();
        Ok::<_, DocuSignError>((
            LoginInformation {
                login_accounts,
                api_password,
            },
            auth.extras.clone(),
        ))
    }
    .await;
    match result {
        Ok((body, extras)) => {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let mut response = bytes.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            extras.apply(response.headers_mut());
            response
        }
        Err(error) => error.into_response(),
    }
}

/// Creates a new API password for a user; it is stored hashed and shown only in this answer.
async fn new_api_password(
    state: &AppState,
    user: &User,
    source_ip: Option<&str>,
) -> Result<String, DocuSignError> {
    let raw = random_bytes::<32>();
    let password = STANDARD.encode(raw);
    let id = hex::encode(&raw[..8]);
    let hash = passwords::hash(password.clone(), state.config.password_hashing)
        .await
        .map_err(|_| DocuSignError::Internal)?;
    state
        .store
        .insert_api_password(user.id, &id, &hash, state.now())
        .await?;
    state
        .verifier
        .audit_event(
            Some(user.organization_id),
            &user.email,
            "user.api_password_create",
            &user.id.to_string(),
            source_ip,
            AuditOutcome::Success,
        )
        .await;
    Ok(password)
}

/// DocuSign `login_information` (v2).
#[utoipa::path(
    get,
    path = "/restapi/v2/login_information",
    tag = "docusign",
    params(
        ("X-DocuSign-Authentication" = String, Header, description = "Legacy credentials, XML or JSON"),
        ("api_password" = Option<String>, Query, description = "true: return a new API password"),
        ("include_account_id_guid" = Option<String>, Query, description = "true: add accountIdGuid"),
        ("login_settings" = Option<String>, Query, description = "all: add settings"),
    ),
    responses(
        (status = 200, description = "The user's accounts", body = LoginInformation),
        (status = 401, description = "PARTNER_AUTHENTICATION_FAILED, USER_AUTHENTICATION_FAILED, USER_LACKS_PERMISSIONS"),
    )
)]
pub async fn login_information(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    login_information_for(state, "v2", peer, headers, query).await
}

/// DocuSign `login_information` (v2.1).
#[utoipa::path(
    get,
    path = "/restapi/v2.1/login_information",
    tag = "docusign",
    params(
        ("X-DocuSign-Authentication" = String, Header, description = "Legacy credentials, XML or JSON"),
        ("api_password" = Option<String>, Query, description = "true: return a new API password"),
        ("include_account_id_guid" = Option<String>, Query, description = "true: add accountIdGuid"),
        ("login_settings" = Option<String>, Query, description = "all: add settings"),
    ),
    responses(
        (status = 200, description = "The user's accounts", body = LoginInformation),
        (status = 401, description = "PARTNER_AUTHENTICATION_FAILED, USER_AUTHENTICATION_FAILED, USER_LACKS_PERMISSIONS"),
    )
)]
pub async fn login_information_v21(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    login_information_for(state, "v2.1", peer, headers, query).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_options_match_values_in_any_case() {
        let options = login_options(Some(
            "API_PASSWORD=True&include_account_id_guid=TRUE&login_settings=All",
        ))
        .unwrap_or_default();
        assert!(options.api_password && options.include_account_id_guid && options.login_settings);
        let options = login_options(Some("api_password=false")).unwrap_or_default();
        assert!(!options.api_password);
    }
}

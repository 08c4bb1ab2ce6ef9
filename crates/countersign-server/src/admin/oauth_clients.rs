//! Integrator keys as OAuth clients in the admin API (SPEC §12): client secrets (shown once),
//! RSA keys (uploaded, or generated with the private key shown once), the administrator
//! consent, and the signed-in user's own consents (`/admin/v1/me/consents`).

use super::session::AdminCaller;
use super::{AdminError, AdminId, AdminJson, ListBody, OrgAdmin, rfc3339};
use crate::ops::NewRsaKey;
use crate::path_id::ConsentKey;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::ids::{IntegratorKeyId, OAuthRsaKeyId, OAuthSecretId, UserId};
use countersign_core::oauth::{AdminConsent, ConsentUsers};
use countersign_store::{OAuthRsaKey, OAuthSecret, UserConsentView};
use serde::{Deserialize, Serialize};

/// A client secret (never the secret itself).
#[derive(Serialize, utoipa::ToSchema)]
pub struct SecretBody {
    /// Id.
    pub id: String,
    /// Creation time.
    pub created_at: String,
    /// Creator.
    pub created_by: String,
}

impl From<OAuthSecret> for SecretBody {
    fn from(secret: OAuthSecret) -> Self {
        Self {
            id: secret.id.to_string(),
            created_at: rfc3339(secret.created_at),
            created_by: secret.created_by,
        }
    }
}

/// A new client secret, shown exactly once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NewSecretBody {
    /// Id (for deletion).
    pub id: String,
    /// The secret (`csos_…`); it is not stored and will not be shown again.
    pub secret: String,
}

/// Adds a client secret: the key becomes a confidential client (at most five secrets).
#[utoipa::path(post, path = "/admin/v1/integrator-keys/{id}/secrets", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 201, body = NewSecretBody), (status = 409, description = "too_many_secrets")))]
pub async fn create_secret(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
) -> Result<(StatusCode, Json<NewSecretBody>), AdminError> {
    let (record, secret) = state.ops().add_oauth_secret(&actor, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewSecretBody {
            id: record.id.to_string(),
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// Lists a key's client secrets (never the secrets).
#[utoipa::path(get, path = "/admin/v1/integrator-keys/{id}/secrets", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ListBody<SecretBody>)))]
pub async fn list_secrets(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
) -> Result<Json<ListBody<SecretBody>>, AdminError> {
    let key = state.store.fetch(actor.organization_id, id).await?;
    let items = state.store.list_oauth_secrets(key.id).await?;
    Ok(Json(ListBody {
        items: items.into_iter().map(SecretBody::from).collect(),
        next_cursor: None,
    }))
}

/// Deletes a client secret; it is refused from the next request.
#[utoipa::path(delete, path = "/admin/v1/integrator-keys/{id}/secrets/{secret_id}", tag = "admin",
    params(("id" = String, Path), ("secret_id" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found")))]
pub async fn delete_secret(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId((id, secret)): AdminId<(IntegratorKeyId, OAuthSecretId)>,
) -> Result<StatusCode, AdminError> {
    state.ops().delete_oauth_secret(&actor, id, secret).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new RSA key: upload a public key, or have a pair generated.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRsaKey {
    /// An RSA public key in PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`), 2048–4096 bits.
    #[serde(default, deserialize_with = "super::not_null")]
    public_key_pem: Option<String>,
    /// `true`: generate a 2048-bit pair and answer the private key once.
    #[serde(default, deserialize_with = "super::not_null")]
    generate: Option<bool>,
}

/// An RSA key as added: the private key only when generated, and only this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NewRsaKeyBody {
    /// Id (for deletion).
    pub id: String,
    /// SHA-256 of the public key's DER (SPKI), hex.
    pub fingerprint: String,
    /// The generated private key (PKCS#1 PEM); not stored and never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_pem: Option<String>,
}

/// An RSA public key of an integrator key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RsaKeyBody {
    /// Id.
    pub id: String,
    /// SHA-256 of the public key's DER (SPKI), hex.
    pub fingerprint: String,
    /// The public key (SPKI PEM).
    pub public_key_pem: String,
    /// When it was added.
    pub created_at: String,
    /// Who added it.
    pub created_by: String,
}

impl From<OAuthRsaKey> for RsaKeyBody {
    fn from(key: OAuthRsaKey) -> Self {
        Self {
            id: key.id.to_string(),
            fingerprint: key.fingerprint,
            public_key_pem: key.public_key_pem,
            created_at: rfc3339(key.created_at),
            created_by: key.created_by,
        }
    }
}

/// Adds an RSA key (at most five per integrator key) for JWT Grant assertions.
#[utoipa::path(post, path = "/admin/v1/integrator-keys/{id}/rsa-keys", tag = "admin", params(("id" = String, Path)),
    request_body = CreateRsaKey, security(("bearer" = [])),
    responses((status = 201, body = NewRsaKeyBody), (status = 409, description = "too_many_keys or key_exists"), (status = 422, description = "Unreadable, private or wrongly sized key")))]
pub async fn create_rsa_key(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
    AdminJson(body): AdminJson<CreateRsaKey>,
) -> Result<(StatusCode, Json<NewRsaKeyBody>), AdminError> {
    let new = match (body.public_key_pem.as_deref(), body.generate) {
        (Some(pem), None | Some(false)) => NewRsaKey::Upload(pem),
        (None, Some(true)) => NewRsaKey::Generate,
        _ => {
            return Err(AdminError::Invalid {
                field: "public_key_pem",
                detail: "give either public_key_pem or \"generate\": true".into(),
            });
        }
    };
    let (record, private) = state.ops().add_oauth_rsa_key(&actor, id, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewRsaKeyBody {
            id: record.id.to_string(),
            fingerprint: record.fingerprint,
            private_key_pem: private.map(|pem| pem.as_str().to_owned()),
        }),
    ))
}

/// Lists a key's RSA public keys.
#[utoipa::path(get, path = "/admin/v1/integrator-keys/{id}/rsa-keys", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ListBody<RsaKeyBody>)))]
pub async fn list_rsa_keys(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
) -> Result<Json<ListBody<RsaKeyBody>>, AdminError> {
    let key = state.store.fetch(actor.organization_id, id).await?;
    let items = state.store.list_oauth_rsa_keys(key.id).await?;
    Ok(Json(ListBody {
        items: items.into_iter().map(RsaKeyBody::from).collect(),
        next_cursor: None,
    }))
}

/// Deletes an RSA key; assertions signed with it are refused from now on.
#[utoipa::path(delete, path = "/admin/v1/integrator-keys/{id}/rsa-keys/{key_id}", tag = "admin",
    params(("id" = String, Path), ("key_id" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found")))]
pub async fn delete_rsa_key(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId((id, rsa_key)): AdminId<(IntegratorKeyId, OAuthRsaKeyId)>,
) -> Result<StatusCode, AdminError> {
    state
        .ops()
        .delete_oauth_rsa_key(&actor, id, rsa_key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whom a consent covers: `"all"` or a list of user ids.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ConsentUsersBody {
    /// `"all"`.
    All(String),
    /// User ids.
    Listed(Vec<String>),
}

/// An administrator consent.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutConsent {
    /// Scopes: `signature`, `impersonation`, `extended`, `openid`.
    scopes: Vec<String>,
    /// `"all"` or the user ids covered.
    user_ids: ConsentUsersBody,
}

/// An administrator consent as stored.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsentBody {
    /// Scopes consented to.
    pub scopes: Vec<String>,
    /// `"all"` or the user ids covered.
    pub user_ids: ConsentUsersBody,
    /// When it was last set.
    pub granted_at: String,
    /// Who set it.
    pub granted_by: String,
}

fn consent_body(consent: AdminConsent, granted_at: String, granted_by: String) -> ConsentBody {
    ConsentBody {
        scopes: consent
            .scopes
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        user_ids: match consent.users {
            ConsentUsers::All => ConsentUsersBody::All("all".into()),
            ConsentUsers::Listed(users) => {
                ConsentUsersBody::Listed(users.iter().map(ToString::to_string).collect())
            }
        },
        granted_at,
        granted_by,
    }
}

/// Grants (or replaces) the organization's consent for a key: the JWT Grant may then act for
/// the users covered without each consenting.
#[utoipa::path(put, path = "/admin/v1/integrator-keys/{id}/consent", tag = "admin", params(("id" = String, Path)),
    request_body = PutConsent, security(("bearer" = [])), responses((status = 200, body = ConsentBody)))]
pub async fn put_consent(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
    AdminJson(body): AdminJson<PutConsent>,
) -> Result<Json<ConsentBody>, AdminError> {
    let users = match body.user_ids {
        ConsentUsersBody::All(all) if all == "all" => ConsentUsers::All,
        ConsentUsersBody::All(_) => {
            return Err(AdminError::Invalid {
                field: "user_ids",
                detail: "user_ids must be \"all\" or a list of user ids".into(),
            });
        }
        ConsentUsersBody::Listed(ids) => ConsentUsers::Listed(
            ids.iter()
                .map(|text| {
                    UserId::parse(text).ok_or_else(|| AdminError::Invalid {
                        field: "user_ids",
                        detail: "every user id must be a UUID".into(),
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let consent = state
        .ops()
        .put_admin_consent(&actor, id, &body.scopes, users)
        .await?;
    Ok(Json(consent_body(
        consent,
        rfc3339(state.now()),
        actor.name,
    )))
}

/// The organization's consent for a key.
#[utoipa::path(get, path = "/admin/v1/integrator-keys/{id}/consent", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ConsentBody), (status = 404, description = "No consent")))]
pub async fn get_consent(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
) -> Result<Json<ConsentBody>, AdminError> {
    let key = state.store.fetch(actor.organization_id, id).await?;
    let record = state
        .store
        .find_admin_consent(key.id)
        .await?
        .ok_or(AdminError::NotFound("consent"))?;
    Ok(Json(consent_body(
        record.consent,
        rfc3339(record.granted_at),
        record.granted_by,
    )))
}

/// One of the signed-in user's consents.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MyConsentBody {
    /// The integrator key.
    pub integrator_key_id: String,
    /// Its name.
    pub integrator_key_name: String,
    /// Its key string (the OAuth client id).
    pub client_id: String,
    /// Scopes consented to.
    pub scopes: Vec<String>,
    /// When.
    pub granted_at: String,
    /// `user` (yours) or `administrator` (your organization's, covering you).
    pub granted_by: String,
}

impl From<UserConsentView> for MyConsentBody {
    fn from(view: UserConsentView) -> Self {
        Self {
            integrator_key_id: view.integrator_key_id.to_string(),
            integrator_key_name: view.integrator_key_name,
            client_id: view.client_id,
            scopes: view.scopes.names().into_iter().map(str::to_owned).collect(),
            granted_at: rfc3339(view.granted_at),
            granted_by: if view.is_own { "user" } else { "administrator" }.into(),
        }
    }
}

/// The signed-in user's consents: their own, and the organization's that cover them.
#[utoipa::path(get, path = "/admin/v1/me/consents", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = ListBody<MyConsentBody>)))]
pub async fn list_my_consents(
    State(state): State<AppState>,
    caller: AdminCaller,
) -> Result<Json<ListBody<MyConsentBody>>, AdminError> {
    let consents = state
        .store
        .list_consents_of_user(caller.user.id, caller.user.organization_id)
        .await?;
    Ok(Json(ListBody {
        items: consents.into_iter().map(MyConsentBody::from).collect(),
        next_cursor: None,
    }))
}

/// Withdraws the signed-in user's consent for an integrator key: every token issued to them
/// under it stops working at once.
#[utoipa::path(delete, path = "/admin/v1/me/consents/{integrator_key_id}", tag = "admin",
    params(("integrator_key_id" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Withdrawn"), (status = 404, description = "No consent")))]
pub async fn withdraw_my_consent(
    State(state): State<AppState>,
    caller: AdminCaller,
    AdminId(ConsentKey(id)): AdminId<ConsentKey>,
) -> Result<StatusCode, AdminError> {
    state.ops().withdraw_consent(&caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

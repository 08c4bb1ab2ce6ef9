//! Directory resources of the admin API: environments, accounts, users, memberships,
//! environment administrators, integrator keys and the organization switch.

use super::AdminId;
use super::{AdminError, AdminJson, AdminQuery, ListBody, ListQuery, OrgAdmin, rfc3339};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::directory::{
    Account, Environment, EnvironmentKind, IntegratorKey, Membership, Permissions, User, UserStatus,
};
use countersign_core::ids::{AccountId, EnvironmentId, IntegratorKeyId, UserId};
use countersign_core::secret::Secret;
use serde::{Deserialize, Serialize};

/// An environment.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EnvironmentBody {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `production` or `sandbox`.
    pub kind: String,
}

impl From<Environment> for EnvironmentBody {
    fn from(e: Environment) -> Self {
        Self {
            id: e.id.to_string(),
            name: e.name,
            kind: e.kind.as_str().into(),
        }
    }
}

/// A new environment.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnvironment {
    /// Name.
    name: String,
    /// `production` or `sandbox`.
    kind: String,
}

/// Lists the organization's environments.
#[utoipa::path(get, path = "/admin/v1/environments", tag = "admin", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = ListBody<EnvironmentBody>), (status = 403, description = "Not an organization administrator")))]
pub async fn list_environments(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<ListQuery>,
) -> Result<Json<ListBody<EnvironmentBody>>, AdminError> {
    let page = state
        .store
        .list::<Environment>(actor.organization_id, query.cursor()?, query.limit()?)
        .await?;
    Ok(Json(ListBody::from_page(page, EnvironmentBody::from)))
}

/// Creates an environment; the caller becomes its administrator.
#[utoipa::path(post, path = "/admin/v1/environments", tag = "admin", request_body = CreateEnvironment, security(("bearer" = [])),
    responses((status = 201, body = EnvironmentBody), (status = 422, description = "Invalid field")))]
pub async fn create_environment(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminJson(body): AdminJson<CreateEnvironment>,
) -> Result<(StatusCode, Json<EnvironmentBody>), AdminError> {
    let kind = EnvironmentKind::parse(&body.kind).ok_or_else(|| AdminError::Invalid {
        field: "kind",
        detail: "kind must be production or sandbox".into(),
    })?;
    let environment = state
        .ops()
        .create_environment(&actor, &body.name, kind)
        .await?;
    Ok((StatusCode::CREATED, Json(environment.into())))
}

/// Returns an environment.
#[utoipa::path(get, path = "/admin/v1/environments/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = EnvironmentBody), (status = 404, description = "Not found")))]
pub async fn get_environment(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<EnvironmentId>,
) -> Result<Json<EnvironmentBody>, AdminError> {
    Ok(Json(
        state.store.fetch(actor.organization_id, id).await?.into(),
    ))
}

/// A user in a list of administrators.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserBody {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// `active` or `disabled`.
    pub status: String,
    /// Whether a password is set.
    pub has_password: bool,
    /// Memberships (only on `GET /users/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memberships: Option<Vec<MembershipBody>>,
}

impl From<User> for UserBody {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email,
            name: u.name,
            status: u.status.as_str().into(),
            has_password: u.has_password,
            memberships: None,
        }
    }
}

/// Lists the administrators of an environment.
#[utoipa::path(get, path = "/admin/v1/environments/{id}/admins", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ListBody<UserBody>)))]
pub async fn list_environment_admins(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<EnvironmentId>,
) -> Result<Json<ListBody<UserBody>>, AdminError> {
    state.store.fetch(actor.organization_id, id).await?;
    let admins = state.store.list_environment_admins(id).await?;
    Ok(Json(ListBody {
        items: admins.into_iter().map(UserBody::from).collect(),
        next_cursor: None,
    }))
}

/// Makes a user an administrator of an environment.
#[utoipa::path(put, path = "/admin/v1/environments/{id}/admins/{user_id}", tag = "admin",
    params(("id" = String, Path), ("user_id" = String, Path)), security(("bearer" = [])), responses((status = 204, description = "Done")))]
pub async fn add_environment_admin(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId((id, user_id)): AdminId<(EnvironmentId, UserId)>,
) -> Result<StatusCode, AdminError> {
    state
        .ops()
        .add_environment_admin(&actor, id, user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user's administration of an environment.
#[utoipa::path(delete, path = "/admin/v1/environments/{id}/admins/{user_id}", tag = "admin",
    params(("id" = String, Path), ("user_id" = String, Path)), security(("bearer" = [])), responses((status = 204, description = "Done")))]
pub async fn remove_environment_admin(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId((id, user_id)): AdminId<(EnvironmentId, UserId)>,
) -> Result<StatusCode, AdminError> {
    state
        .ops()
        .remove_environment_admin(&actor, id, user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountBody {
    /// The account context identifier.
    pub id: String,
    /// The numeric DocuSign account id.
    pub number: String,
    /// Name.
    pub name: String,
    /// Environment id.
    pub environment_id: String,
}

impl From<Account> for AccountBody {
    fn from(a: Account) -> Self {
        Self {
            id: a.id.to_string(),
            number: a.number,
            name: a.name,
            environment_id: a.environment_id.to_string(),
        }
    }
}

/// A new account.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// Environment id.
    environment_id: String,
    /// Name.
    name: String,
}

/// Lists the organization's accounts.
#[utoipa::path(get, path = "/admin/v1/accounts", tag = "admin", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = ListBody<AccountBody>)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<ListQuery>,
) -> Result<Json<ListBody<AccountBody>>, AdminError> {
    let page = state
        .store
        .list::<Account>(actor.organization_id, query.cursor()?, query.limit()?)
        .await?;
    Ok(Json(ListBody::from_page(page, AccountBody::from)))
}

/// Creates an account with a fresh numeric number.
#[utoipa::path(post, path = "/admin/v1/accounts", tag = "admin", request_body = CreateAccount, security(("bearer" = [])),
    responses((status = 201, body = AccountBody), (status = 422, description = "Invalid field")))]
pub async fn create_account(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminJson(body): AdminJson<CreateAccount>,
) -> Result<(StatusCode, Json<AccountBody>), AdminError> {
    let environment =
        EnvironmentId::parse(&body.environment_id).ok_or_else(|| AdminError::Invalid {
            field: "environment_id",
            detail: "environment_id must be a UUID".into(),
        })?;
    let account = state
        .ops()
        .create_account(&actor, environment, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// Returns an account.
#[utoipa::path(get, path = "/admin/v1/accounts/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = AccountBody), (status = 404, description = "Not found")))]
pub async fn get_account(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<AccountId>,
) -> Result<Json<AccountBody>, AdminError> {
    Ok(Json(
        state.store.fetch(actor.organization_id, id).await?.into(),
    ))
}

/// A new user.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Email (the username; unique per organization, case-insensitive).
    email: String,
    /// Name.
    name: String,
    /// Optional password (at least 8 characters).
    #[schema(format = Password)]
    password: Option<String>,
}

/// A change to a user.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// `active` or `disabled`.
    #[serde(default, deserialize_with = "super::not_null")]
    status: Option<String>,
    /// New name.
    #[serde(default, deserialize_with = "super::not_null")]
    name: Option<String>,
}

/// A new password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// The password (at least 8 characters).
    #[schema(format = Password)]
    password: String,
}

/// A membership.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MembershipBody {
    /// User id.
    pub user_id: String,
    /// Account id.
    pub account_id: String,
    /// Account number.
    pub account_number: String,
    /// Account name.
    pub account_name: String,
    /// Environment of the account.
    pub environment_id: String,
    /// Granted permissions.
    pub permissions: Vec<String>,
    /// Whether this is the user's default account.
    pub is_default: bool,
}

impl From<Membership> for MembershipBody {
    fn from(m: Membership) -> Self {
        Self {
            user_id: m.user_id.to_string(),
            account_id: m.account_id.to_string(),
            account_number: m.account_number,
            account_name: m.account_name,
            environment_id: m.environment_id.to_string(),
            permissions: m
                .permissions
                .names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            is_default: m.is_default,
        }
    }
}

/// A membership to grant or change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMembership {
    /// Any of `send`, `sobo`, `account_wide`, `admin`.
    permissions: Vec<String>,
    /// Make this the user's default account.
    #[serde(default)]
    is_default: bool,
}

/// Lists the organization's users.
#[utoipa::path(get, path = "/admin/v1/users", tag = "admin", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = ListBody<UserBody>)))]
pub async fn list_users(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<ListQuery>,
) -> Result<Json<ListBody<UserBody>>, AdminError> {
    let page = state
        .store
        .list::<User>(actor.organization_id, query.cursor()?, query.limit()?)
        .await?;
    Ok(Json(ListBody::from_page(page, UserBody::from)))
}

/// Creates a user.
#[utoipa::path(post, path = "/admin/v1/users", tag = "admin", request_body = CreateUser, security(("bearer" = [])),
    responses((status = 201, body = UserBody), (status = 409, description = "Email taken"), (status = 422, description = "Invalid field")))]
pub async fn create_user(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminJson(body): AdminJson<CreateUser>,
) -> Result<(StatusCode, Json<UserBody>), AdminError> {
    let user = state
        .ops()
        .create_user(
            &actor,
            &body.email,
            &body.name,
            body.password.map(Secret::new),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Returns a user with memberships.
#[utoipa::path(get, path = "/admin/v1/users/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = UserBody), (status = 404, description = "Not found")))]
pub async fn get_user(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<UserId>,
) -> Result<Json<UserBody>, AdminError> {
    let user = state.store.fetch(actor.organization_id, id).await?;
    let memberships = state.store.list_memberships(id).await?;
    let mut body = UserBody::from(user);
    body.memberships = Some(memberships.into_iter().map(MembershipBody::from).collect());
    Ok(Json(body))
}

/// Changes a user's status and/or name; disabling takes effect on the next request.
#[utoipa::path(patch, path = "/admin/v1/users/{id}", tag = "admin", params(("id" = String, Path)), request_body = UpdateUser, security(("bearer" = [])),
    responses((status = 200, body = UserBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<UserId>,
    AdminJson(body): AdminJson<UpdateUser>,
) -> Result<Json<UserBody>, AdminError> {
    let status = match body.status.as_deref() {
        None => None,
        Some(text) => Some(UserStatus::parse(text).ok_or_else(|| AdminError::Invalid {
            field: "status",
            detail: "status must be active or disabled".into(),
        })?),
    };
    let user = state
        .ops()
        .update_user(&actor, id, body.name.as_deref(), status)
        .await?;
    Ok(Json(user.into()))
}

/// Deletes a user with its memberships, API passwords, admin sessions and the API users scoped
/// to it.
#[utoipa::path(delete, path = "/admin/v1/users/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found")))]
pub async fn delete_user(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<UserId>,
) -> Result<StatusCode, AdminError> {
    state.ops().delete_user(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a user's password; cached verifications, the API passwords and the
/// user's admin sessions end at once.
#[utoipa::path(put, path = "/admin/v1/users/{id}/password", tag = "admin", params(("id" = String, Path)), request_body = SetPassword, security(("bearer" = [])),
    responses((status = 204, description = "Set")))]
pub async fn set_password(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<UserId>,
    AdminJson(body): AdminJson<SetPassword>,
) -> Result<StatusCode, AdminError> {
    state
        .ops()
        .set_password(&actor, id, Secret::new(body.password))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every API password of a user; legacy-header verifications with them stop at once.
#[utoipa::path(delete, path = "/admin/v1/users/{id}/api-passwords", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Reset")))]
pub async fn reset_api_passwords(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<UserId>,
) -> Result<StatusCode, AdminError> {
    state.ops().reset_api_passwords(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Grants or changes a membership.
#[utoipa::path(put, path = "/admin/v1/users/{id}/memberships/{account_id}", tag = "admin",
    params(("id" = String, Path), ("account_id" = String, Path)), request_body = PutMembership, security(("bearer" = [])),
    responses((status = 200, body = MembershipBody)))]
pub async fn put_membership(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId((id, account_id)): AdminId<(UserId, AccountId)>,
    AdminJson(body): AdminJson<PutMembership>,
) -> Result<Json<MembershipBody>, AdminError> {
    let permissions =
        Permissions::parse_names(&body.permissions).map_err(|name| AdminError::Invalid {
            field: "permissions",
            detail: format!(
                "unknown permission '{}'",
                name.chars().take(32).collect::<String>()
            ),
        })?;
    let membership = state
        .ops()
        .put_membership(&actor, id, account_id, permissions, body.is_default)
        .await?;
    Ok(Json(membership.into()))
}

/// Removes a membership.
#[utoipa::path(delete, path = "/admin/v1/users/{id}/memberships/{account_id}", tag = "admin",
    params(("id" = String, Path), ("account_id" = String, Path)), security(("bearer" = [])), responses((status = 204, description = "Removed")))]
pub async fn delete_membership(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId((id, account_id)): AdminId<(UserId, AccountId)>,
) -> Result<StatusCode, AdminError> {
    state
        .ops()
        .delete_membership(&actor, id, account_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An integrator key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IntegratorKeyBody {
    /// Record id.
    pub id: String,
    /// The key string integrations send.
    pub key: String,
    /// Name.
    pub name: String,
    /// `active` or `revoked`.
    pub status: String,
    /// When the legacy header stops being accepted with this key.
    pub legacy_sunset_at: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Redirect URIs of the OAuth Authorization Code Grant.
    pub redirect_uris: Vec<String>,
    /// Whether the OAuth implicit grant is allowed.
    pub allow_implicit: bool,
}

impl From<IntegratorKey> for IntegratorKeyBody {
    fn from(k: IntegratorKey) -> Self {
        Self {
            id: k.id.to_string(),
            key: k.key,
            name: k.name,
            status: k.status.as_str().into(),
            legacy_sunset_at: k.legacy_sunset_at.map(rfc3339),
            created_at: rfc3339(k.created_at),
            redirect_uris: k.redirect_uris,
            allow_implicit: k.allow_implicit,
        }
    }
}

/// A new integrator key.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegratorKey {
    /// Name.
    name: String,
    /// An existing key to import (e.g. `YDMN-…`); a UUID is generated when absent.
    key: Option<String>,
}

/// Lists the organization's integrator keys.
#[utoipa::path(get, path = "/admin/v1/integrator-keys", tag = "admin", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = ListBody<IntegratorKeyBody>)))]
pub async fn list_integrator_keys(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminQuery(query): AdminQuery<ListQuery>,
) -> Result<Json<ListBody<IntegratorKeyBody>>, AdminError> {
    let page = state
        .store
        .list::<IntegratorKey>(actor.organization_id, query.cursor()?, query.limit()?)
        .await?;
    Ok(Json(ListBody::from_page(page, IntegratorKeyBody::from)))
}

/// Creates (or imports) an integrator key.
#[utoipa::path(post, path = "/admin/v1/integrator-keys", tag = "admin", request_body = CreateIntegratorKey, security(("bearer" = [])),
    responses((status = 201, body = IntegratorKeyBody), (status = 409, description = "Key exists")))]
pub async fn create_integrator_key(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminJson(body): AdminJson<CreateIntegratorKey>,
) -> Result<(StatusCode, Json<IntegratorKeyBody>), AdminError> {
    let key = state
        .ops()
        .create_integrator_key(&actor, &body.name, body.key.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(key.into())))
}

/// Returns an integrator key.
#[utoipa::path(get, path = "/admin/v1/integrator-keys/{id}", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = IntegratorKeyBody), (status = 404, description = "Not found")))]
pub async fn get_integrator_key(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
) -> Result<Json<IntegratorKeyBody>, AdminError> {
    Ok(Json(
        state.store.fetch(actor.organization_id, id).await?.into(),
    ))
}

/// Revokes an integrator key; the legacy header with it is refused at once.
#[utoipa::path(post, path = "/admin/v1/integrator-keys/{id}/revoke", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = IntegratorKeyBody)))]
pub async fn revoke_integrator_key(
    State(state): State<AppState>,
    OrgAdmin(actor): OrgAdmin,
    AdminId(id): AdminId<IntegratorKeyId>,
) -> Result<Json<IntegratorKeyBody>, AdminError> {
    Ok(Json(
        state.ops().revoke_integrator_key(&actor, id).await?.into(),
    ))
}

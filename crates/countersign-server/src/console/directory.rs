//! What the console's directory pages share: whole lists read for pickers and lookups (bounded),
//! the notice query, and the small text helpers. The pages themselves live one file per
//! resource: `environments`, `accounts`, `users`, `integrator_keys`.

use super::layout::ConsoleError;
use crate::state::AppState;
use countersign_core::directory::{Account, Environment, IntegratorKey, User};
use countersign_core::ids::{EnvironmentId, OrganizationId};
use countersign_store::{ALL_PAGES_BATCH, StoreError, all_pages};
use serde::Deserialize;

/// At most this many pages of a list are read for one console page, bounding its work.
pub(super) const MAX_PAGES: usize = 100;

/// Every user of an organization, in creation order.
///
/// # Errors
/// Returns the store's error.
pub async fn all_users(
    state: &AppState,
    organization: OrganizationId,
) -> Result<Vec<User>, StoreError> {
    all_pages(MAX_PAGES, |cursor| async move {
        state
            .store
            .list_users(organization, cursor.as_deref(), ALL_PAGES_BATCH)
            .await
    })
    .await
}

/// Every environment of an organization, in creation order.
///
/// # Errors
/// Returns the store's error.
pub async fn all_environments(
    state: &AppState,
    organization: OrganizationId,
) -> Result<Vec<Environment>, StoreError> {
    all_pages(MAX_PAGES, |cursor| async move {
        state
            .store
            .list_environments(organization, cursor.as_deref(), ALL_PAGES_BATCH)
            .await
    })
    .await
}

/// Every account of an organization, in creation order.
///
/// # Errors
/// Returns the store's error.
pub async fn all_accounts(
    state: &AppState,
    organization: OrganizationId,
) -> Result<Vec<Account>, StoreError> {
    all_pages(MAX_PAGES, |cursor| async move {
        state
            .store
            .list_accounts(organization, cursor.as_deref(), ALL_PAGES_BATCH)
            .await
    })
    .await
}

pub(super) async fn all_integrator_keys(
    state: &AppState,
    organization: OrganizationId,
) -> Result<Vec<IntegratorKey>, StoreError> {
    all_pages(MAX_PAGES, |cursor| async move {
        state
            .store
            .list_integrator_keys(organization, cursor.as_deref(), ALL_PAGES_BATCH)
            .await
    })
    .await
}

/// Query of the directory pages: what was just done, for the notice.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    pub(super) done: Option<String>,
}

/// Turns an operation's validation message (`"name must not be empty"`) into a sentence.
pub(super) fn sentence(detail: &str) -> String {
    let mut chars = detail.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

pub(super) fn environment_name(environments: &[Environment], id: EnvironmentId) -> String {
    environments
        .iter()
        .find(|e| e.id == id)
        .map_or_else(|| id.to_string(), |e| e.name.clone())
}

pub(super) fn parse_path<T>(
    text: &str,
    parse: fn(&str) -> Option<T>,
    entity: &'static str,
) -> Result<T, ConsoleError> {
    parse(text).ok_or(ConsoleError::NotFound(entity))
}

/// The text with its first letter upper-cased (a status shown in a table).
pub(super) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

//! What the console's directory pages share: whole lists read for pickers and lookups (bounded),
//! the notice query, and the small text helpers. The pages themselves live one file per
//! resource: `environments`, `accounts`, `users`, `integrator_keys`.

use crate::state::AppState;
use countersign_core::directory::Environment;
use countersign_core::ids::{EnvironmentId, OrganizationId};
use countersign_store::{Owned, StoreError};
use serde::Deserialize;

/// At most this many pages of a list are read for one console page, bounding its work.
pub(super) const MAX_PAGES: usize = 100;

/// Every record of type `T` the organization owns (users, environments, accounts, integrator
/// keys), in creation order, at most [`MAX_PAGES`] pages.
///
/// # Errors
/// Returns the store's error.
pub async fn all<T: Owned>(
    state: &AppState,
    organization: OrganizationId,
) -> Result<Vec<T>, StoreError> {
    state.store.list_all::<T>(organization, MAX_PAGES).await
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

/// The text with its first letter upper-cased (a status shown in a table).
pub(super) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

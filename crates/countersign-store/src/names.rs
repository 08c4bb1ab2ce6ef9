//! Names that look alike among rows written before uniqueness compared skeletons (SPEC §2):
//! what `countersign doctor` reports.

use crate::{Store, StoreError};
use countersign_core::names::skeleton;
use std::collections::BTreeMap;

/// (kind, organization for emails, skeleton).
type GroupKey = (&'static str, Option<String>, String);

/// Rows whose names share one look-alike skeleton.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameCollision {
    /// `api_user` (installation-wide) or `user` (per organization).
    pub kind: &'static str,
    /// The organization, for user emails.
    pub organization_id: Option<String>,
    /// The colliding rows as (id, name), oldest first.
    pub rows: Vec<(String, String)>,
}

impl Store {
    /// Lists every group of API usernames (installation-wide) and of user emails (per
    /// organization) that share a look-alike skeleton.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_name_collisions(&self) -> Result<Vec<NameCollision>, StoreError> {
        let mut groups: BTreeMap<GroupKey, Vec<(String, String)>> = BTreeMap::new();
        let api_users: Vec<(String, String)> =
            sqlx::query_as("SELECT id, username FROM api_users ORDER BY id")
                .fetch_all(self.pool())
                .await?;
        for (id, username) in api_users {
            groups
                .entry(("api_user", None, skeleton(&username)))
                .or_default()
                .push((id, username));
        }
        let users: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, organization_id, email FROM users ORDER BY id")
                .fetch_all(self.pool())
                .await?;
        for (id, organization, email) in users {
            groups
                .entry(("user", Some(organization), skeleton(email.trim())))
                .or_default()
                .push((id, email));
        }
        Ok(groups
            .into_iter()
            .filter(|(_, rows)| rows.len() > 1)
            .map(|((kind, organization_id, _), rows)| NameCollision {
                kind,
                organization_id,
                rows,
            })
            .collect())
    }
}

//! Queries over the `environments` table.

use crate::paging::owned;
use crate::{Store, StoreError, millis, parse_id};
use countersign_core::directory::{Environment, EnvironmentKind};
use countersign_core::ids::{EnvironmentId, OrganizationId, UserId};
use time::OffsetDateTime;

const ENVIRONMENT_COLUMNS: &str = "id, organization_id, name, kind";

#[derive(sqlx::FromRow)]
pub struct EnvironmentRow {
    id: String,
    organization_id: String,
    name: String,
    kind: String,
}

impl TryFrom<EnvironmentRow> for Environment {
    type Error = StoreError;
    fn try_from(row: EnvironmentRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_id(&row.id, EnvironmentId::parse)?,
            organization_id: parse_id(&row.organization_id, OrganizationId::parse)?,
            name: row.name,
            kind: EnvironmentKind::parse(&row.kind).ok_or(StoreError::Corrupt { what: "kind" })?,
        })
    }
}

impl Store {
    /// Creates an environment and makes `creator` (if any) its administrator, atomically.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn insert_environment(
        &self,
        environment: &Environment,
        creator: Option<UserId>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO environments (id, organization_id, name, kind, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(environment.id.to_string())
            .bind(environment.organization_id.to_string())
            .bind(&environment.name)
            .bind(environment.kind.as_str())
            .bind(millis(now))
            .execute(&mut *tx)
            .await?;
        if let Some(creator) = creator {
            sqlx::query("INSERT INTO environment_admins (environment_id, user_id) VALUES ($1, $2)")
                .bind(environment.id.to_string())
                .bind(creator.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Returns the ids of every environment of an organization.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn list_environment_ids(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<EnvironmentId>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM environments WHERE organization_id = $1 ORDER BY id",
        )
        .bind(organization.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|id| parse_id(id, EnvironmentId::parse))
            .collect()
    }
}

owned! {
    Environment(EnvironmentRow) by EnvironmentId, "environment",
    from "environments", select ENVIRONMENT_COLUMNS
}

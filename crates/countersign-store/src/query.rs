//! The tails every query shares, written once: reading rows into domain values (a row that
//! does not convert is `Corrupt`), and "no row touched" as `NotFound` naming the entity, so a
//! table's file says only its SQL and its binds.

use crate::{Store, StoreError};
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow};
use sqlx::query::{Query, QueryAs};
use sqlx::{Any, FromRow};

/// A statement with its parameters bound.
pub(crate) type Statement<'q> = Query<'q, Any, AnyArguments<'q>>;
/// A query whose rows read as `R`, with its parameters bound.
pub(crate) type RowQuery<'q, R> = QueryAs<'q, Any, R, AnyArguments<'q>>;

/// `NotFound` (naming `entity`) when a statement touched no row.
pub(crate) fn touched(done: &AnyQueryResult, entity: &'static str) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound { entity });
    }
    Ok(())
}

impl Store {
    /// Every row of `query`, converted.
    ///
    /// # Errors
    /// Returns `Backend` on database failure and `Corrupt` for a row that does not convert.
    pub(crate) async fn all<'q, R, T>(&self, query: RowQuery<'q, R>) -> Result<Vec<T>, StoreError>
    where
        R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
    {
        let rows = query.fetch_all(self.pool()).await?;
        rows.into_iter().map(T::try_from).collect()
    }

    /// The row of `query`, converted, if there is one.
    ///
    /// # Errors
    /// Returns `Backend` on database failure and `Corrupt` for a row that does not convert.
    pub(crate) async fn optional<'q, R, T>(
        &self,
        query: RowQuery<'q, R>,
    ) -> Result<Option<T>, StoreError>
    where
        R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
    {
        query
            .fetch_optional(self.pool())
            .await?
            .map(T::try_from)
            .transpose()
    }

    /// Runs a statement.
    ///
    /// # Errors
    /// Returns `Backend` on database failure (and the constraint errors `StoreError` maps).
    pub(crate) async fn run(&self, statement: Statement<'_>) -> Result<(), StoreError> {
        statement.execute(self.pool()).await?;
        Ok(())
    }

    /// Runs a statement that must touch a row.
    ///
    /// # Errors
    /// Returns `NotFound` (naming `entity`) when it touched none, `Backend` on database failure.
    pub(crate) async fn run_one(
        &self,
        statement: Statement<'_>,
        entity: &'static str,
    ) -> Result<(), StoreError> {
        touched(&statement.execute(self.pool()).await?, entity)
    }
}

//! Keyset paging shared by every `list_*` query: the `Page` type, the over-fetch limit,
//! `Store::list_page`, which runs one page of a list, and `all_pages`, which reads a whole list
//! through any of them (the CLI prints every item; console pickers read whole lists).

use crate::{Store, StoreError};
use countersign_core::ids::OrganizationId;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::QueryAs;
use sqlx::{Any, Encode, FromRow, Type};
use std::future::Future;

/// A page of a list, with the cursor of the next page.
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched items, using `cursor_of` on the last kept item.
    fn from_overfetch(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Self {
        let has_more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if has_more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

/// Items asked for per page by [`all_pages`].
pub const ALL_PAGES_BATCH: u32 = 1000;

/// Reads a whole cursor-paged list: calls `fetch` with `None`, then with each returned
/// `next_cursor`, until a page has none, and returns every item in order. At most `max_pages`
/// pages are read (what a caller's work is bounded by); a list longer than that is cut there.
///
/// # Errors
/// Returns the first store error, and `Corrupt` when a page hands back the cursor it was asked
/// with (which would otherwise loop).
pub async fn all_pages<T, F, Fut>(max_pages: usize, mut fetch: F) -> Result<Vec<T>, StoreError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..max_pages {
        let page = fetch(cursor.clone()).await?;
        items.extend(page.items);
        match page.next_cursor {
            None => break,
            Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                return Err(StoreError::Corrupt {
                    what: "list cursor (it did not advance)",
                });
            }
            Some(next) => cursor = Some(next),
        }
    }
    Ok(items)
}

/// The lower bound of a text-keyed page: the cursor, or the empty string before the first page.
pub(crate) fn list_bound(cursor: Option<&str>) -> String {
    cursor.unwrap_or("").to_owned()
}

/// Clamps a requested page size to 1–1000 and turns it into the over-fetch SQL limit.
pub(crate) fn overfetch(limit: u32) -> i64 {
    i64::from(limit.clamp(1, 1000)) + 1
}

/// The query of one page before its last two parameters are bound.
pub(crate) type PageQuery<'q, R> = QueryAs<'q, Any, R, AnyArguments<'q>>;

impl Store {
    /// One page of an organization's rows of `table` in id order (ids are UUIDv7, so this is
    /// creation order): the list query every organization-scoped resource shares.
    ///
    /// # Errors
    /// Returns `Backend` on database failure and `Corrupt` for a row that does not convert.
    pub(crate) async fn list_in_organization<R, T>(
        &self,
        table: &str,
        columns: &str,
        organization: OrganizationId,
        cursor: Option<&str>,
        limit: u32,
        id_of: impl Fn(&T) -> String,
    ) -> Result<Page<T>, StoreError>
    where
        R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
    {
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        self.list_page::<R, T, _>(
            &sql,
            |query| query.bind(organization.to_string()),
            list_bound(cursor),
            limit,
            id_of,
        )
        .await
    }

    /// One row of `table` by id, only within `organization`.
    ///
    /// # Errors
    /// Returns `NotFound` (naming `entity`) when absent or in another organization.
    pub(crate) async fn fetch_in_organization<R, T>(
        &self,
        table: &str,
        columns: &str,
        organization: OrganizationId,
        id: impl std::fmt::Display,
        entity: &'static str,
    ) -> Result<T, StoreError>
    where
        R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
    {
        let sql = format!("SELECT {columns} FROM {table} WHERE id = $1 AND organization_id = $2");
        sqlx::query_as::<_, R>(&sql)
            .bind(id.to_string())
            .bind(organization.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound { entity })?
            .try_into()
    }

    /// Fetches one page of a keyset-paged list.
    ///
    /// `sql` selects the rows after the cursor in key order; its last two parameters are the
    /// cursor bound (`after`) and the row limit, bound here as `limit + 1` so the page knows
    /// whether another follows. `bind` binds every parameter before them. Each row becomes a
    /// `T`, and `cursor_of` names the last kept item as the next page's cursor.
    ///
    /// # Errors
    /// Returns `Backend` on database failure and `Corrupt` for a row that does not convert.
    pub(crate) async fn list_page<'q, R, T, C>(
        &self,
        sql: &'q str,
        bind: impl FnOnce(PageQuery<'q, R>) -> PageQuery<'q, R>,
        after: C,
        limit: u32,
        cursor_of: impl Fn(&T) -> String,
    ) -> Result<Page<T>, StoreError>
    where
        R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
        C: 'q + Send + Encode<'q, Any> + Type<Any>,
    {
        let rows = bind(sqlx::query_as::<_, R>(sql))
            .bind(after)
            .bind(overfetch(limit))
            .fetch_all(self.pool())
            .await?;
        let items = rows
            .into_iter()
            .map(T::try_from)
            .collect::<Result<Vec<T>, _>>()?;
        Ok(Page::from_overfetch(items, limit, cursor_of))
    }
}

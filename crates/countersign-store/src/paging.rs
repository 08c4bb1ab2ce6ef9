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

/// A record an organization owns, in a table of its own: what [`Store::list`] and
/// [`Store::fetch`] need to read it. Each table's file implements it beside its queries.
pub trait Owned: TryFrom<Self::Row, Error = StoreError> + Send + Unpin {
    /// The row as stored.
    type Row: for<'r> FromRow<'r, AnyRow> + Send + Unpin;
    /// The table (with its joins, when the organization is found through another table).
    const TABLE: &'static str;
    /// The columns `Row` reads.
    const COLUMNS: &'static str;
    /// The column of the record's id: its order is creation order (ids are UUIDv7).
    const ID: &'static str;
    /// The column naming the owning organization.
    const ORGANIZATION: &'static str;
    /// What `NotFound` names.
    const ENTITY: &'static str;
    /// The record's id as the cursor of the page after it.
    fn cursor(&self) -> String;
}

/// The id of an [`Owned`] record: [`Store::fetch`] reads the record by it.
pub trait OwnedId: std::fmt::Display {
    /// The record this id names.
    type Record: Owned;
}

/// Declares a record an organization owns ([`Owned`]) and its id ([`OwnedId`]):
/// `owned! { Record(Row) by Id, "entity", from TABLE select COLUMNS }`, with the id in `id` and
/// the owner in `organization_id` unless `key` and `owner` name other columns.
macro_rules! owned {
    ($record:ident ($row:ident) by $id:ident, $entity:literal, from $table:expr, select $columns:expr) => {
        $crate::paging::owned! {
            $record($row) by $id, $entity, from $table, select $columns,
            key "id", owner "organization_id"
        }
    };
    ($record:ident ($row:ident) by $id:ident, $entity:literal, from $table:expr, select $columns:expr,
     key $key:literal, owner $owner:literal) => {
        impl $crate::paging::Owned for $record {
            type Row = $row;
            const TABLE: &'static str = $table;
            const COLUMNS: &'static str = $columns;
            const ID: &'static str = $key;
            const ORGANIZATION: &'static str = $owner;
            const ENTITY: &'static str = $entity;

            fn cursor(&self) -> String {
                self.id.to_string()
            }
        }

        impl $crate::paging::OwnedId for $id {
            type Record = $record;
        }
    };
}
pub(crate) use owned;

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
    /// One page of an organization's records of type `T` in id order (ids are UUIDv7, so this
    /// is creation order).
    ///
    /// # Errors
    /// Returns `Backend` on database failure and `Corrupt` for a row that does not convert.
    pub async fn list<T: Owned>(
        &self,
        organization: OrganizationId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<T>, StoreError> {
        let (id, owner) = (T::ID, T::ORGANIZATION);
        let sql = format!(
            "SELECT {} FROM {} WHERE {owner} = $1 AND {id} > $2 ORDER BY {id} LIMIT $3",
            T::COLUMNS,
            T::TABLE
        );
        let owner = organization.to_string();
        self.list_page::<T::Row, T, _>(
            &sql,
            |query| query.bind(owner),
            list_bound(cursor),
            limit,
            T::cursor,
        )
        .await
    }

    /// Every record of type `T` the organization owns, in creation order, read
    /// [`ALL_PAGES_BATCH`] at a time; at most `max_pages` pages (what a caller's work is bounded
    /// by: a longer list is cut there).
    ///
    /// # Errors
    /// As [`all_pages`].
    pub async fn list_all<T: Owned>(
        &self,
        organization: OrganizationId,
        max_pages: usize,
    ) -> Result<Vec<T>, StoreError> {
        all_pages(max_pages, |cursor| async move {
            self.list::<T>(organization, cursor.as_deref(), ALL_PAGES_BATCH)
                .await
        })
        .await
    }

    /// The record with id `id`, only within `organization`.
    ///
    /// # Errors
    /// Returns `NotFound` (naming the record's kind) when absent or in another organization.
    pub async fn fetch<I: OwnedId>(
        &self,
        organization: OrganizationId,
        id: I,
    ) -> Result<I::Record, StoreError> {
        let (columns, table) = (I::Record::COLUMNS, I::Record::TABLE);
        let (key, owner) = (I::Record::ID, I::Record::ORGANIZATION);
        let sql = format!("SELECT {columns} FROM {table} WHERE {key} = $1 AND {owner} = $2");
        let query = sqlx::query_as::<_, <I::Record as Owned>::Row>(&sql)
            .bind(id.to_string())
            .bind(organization.to_string());
        self.optional(query).await?.ok_or(StoreError::NotFound {
            entity: I::Record::ENTITY,
        })
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

//! Reading a whole list from the store's cursor-paged `list_*` functions: the CLI prints every
//! item, never just the first page (the store's `all_pages`, without a page limit).

use anyhow::Result;
use countersign_store::{Page, StoreError};
use std::future::Future;

/// Items asked for per page.
pub const PAGE_SIZE: u32 = countersign_store::ALL_PAGES_BATCH;

/// Every item of a list, page by page (see `countersign_store::all_pages`).
///
/// # Errors
/// Returns the first store error, or an error when a page hands back the cursor it was asked
/// with.
pub async fn all_pages<T, F, Fut>(fetch: F) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    Ok(countersign_store::all_pages(usize::MAX, fetch).await?)
}

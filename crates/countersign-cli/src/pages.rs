//! Reading a whole list from the store's cursor-paged `list_*` functions: the CLI prints every
//! item, never just the first page.

use anyhow::{Result, bail};
use countersign_store::{Page, StoreError};
use std::future::Future;

/// Items asked for per page.
pub const PAGE_SIZE: u32 = 1000;

/// Calls `fetch` with `None`, then with each returned `next_cursor`, until a page has none, and
/// returns every item in order.
///
/// # Errors
/// Returns the first store error, or an error when a page hands back the cursor it was asked
/// with (which would otherwise loop forever).
pub async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = fetch(cursor.clone()).await?;
        items.extend(page.items);
        match page.next_cursor {
            None => return Ok(items),
            Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                bail!("the list did not advance past cursor {next}")
            }
            Some(next) => cursor = Some(next),
        }
    }
}

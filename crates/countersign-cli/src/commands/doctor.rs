//! `doctor`: reports names that look alike (rows kept from before look-alikes were refused).

use crate::output::output;
use anyhow::{Context, Result, bail};
use countersign_store::Store;
use serde_json::json;

/// Reports names that look alike; an error (non-zero exit) when there are any.
pub async fn run(store: &Store, json_mode: bool) -> Result<()> {
    let collisions = store
        .list_name_collisions()
        .await
        .context("reading names")?;
    let value = json!({
        "name_collisions": collisions
            .iter()
            .map(|c| json!({
                "kind": c.kind,
                "organization_id": c.organization_id,
                "rows": c.rows.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    });
    let rows = collisions
        .iter()
        .enumerate()
        .flat_map(|(group, c)| {
            c.rows.iter().map(move |(id, name)| {
                vec![
                    (group + 1).to_string(),
                    c.kind.to_owned(),
                    c.organization_id.clone().unwrap_or_default(),
                    id.clone(),
                    format!("{name:?}"),
                ]
            })
        })
        .collect();
    output(
        json_mode,
        &value,
        &["group", "kind", "organization", "id", "name"],
        rows,
    );
    if collisions.is_empty() {
        if !json_mode {
            println!("no names look alike");
        }
        Ok(())
    } else {
        bail!(
            "{} group(s) of names look alike (each row keeps working; new look-alikes are refused)",
            collisions.len()
        )
    }
}

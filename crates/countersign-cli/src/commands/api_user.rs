//! `api-user` subcommands: list, create, revoke, delete and rotate; a new key is printed once.

use super::{Direct, op_error, parse, parse_scope};
use crate::args::ApiUserAction;
use crate::output::{ApiUserAt, Row, print_json, print_row, print_rows};
use crate::pages::{PAGE_SIZE, all_pages};
use anyhow::Result;
use countersign_core::ids::ApiUserId;
use countersign_server::ops::{self, IssuedKey};
use serde_json::{Value, json};

/// Runs an `api-user` subcommand.
pub async fn run(direct: &Direct, action: ApiUserAction, json_mode: bool) -> Result<()> {
    let (ops, actor, org) = (&direct.ops, &direct.actor, direct.organization);
    let now = time::OffsetDateTime::now_utc();
    match action {
        ApiUserAction::List { include_inactive } => {
            let api_users = all_pages(|cursor| async move {
                ops.store
                    .list_api_users(org, include_inactive, now, cursor.as_deref(), PAGE_SIZE)
                    .await
            })
            .await?;
            let rows: Vec<ApiUserAt<'_>> = api_users
                .iter()
                .map(|api_user| ApiUserAt { api_user, now })
                .collect();
            print_rows(json_mode, &rows);
        }
        ApiUserAction::Create {
            username,
            scope,
            expires_at,
            description,
        } => {
            let expires_at = ops::parse_expiry(&expires_at).map_err(op_error)?;
            let issued = ops
                .create_api_user(
                    actor,
                    &username,
                    parse_scope(&scope)?,
                    expires_at,
                    description.as_deref(),
                )
                .await
                .map_err(op_error)?;
            print_issued(&issued, json_mode, now);
        }
        ApiUserAction::Revoke { id } => {
            let api_user = ops
                .revoke_api_user(actor, parse(&id, ApiUserId::parse, "--id")?)
                .await
                .map_err(op_error)?;
            print_row(
                json_mode,
                &ApiUserAt {
                    api_user: &api_user,
                    now,
                },
            );
        }
        ApiUserAction::Delete { id } => {
            ops.delete_api_user(actor, parse(&id, ApiUserId::parse, "--id")?)
                .await
                .map_err(op_error)?;
            println!("deleted");
        }
        ApiUserAction::Rotate {
            id,
            grace_minutes,
            retire_after_silence_minutes,
        } => {
            let issued = ops
                .rotate_api_user(
                    actor,
                    parse(&id, ApiUserId::parse, "--id")?,
                    grace_minutes,
                    retire_after_silence_minutes,
                )
                .await
                .map_err(op_error)?;
            print_issued(&issued, json_mode, now);
        }
    }
    Ok(())
}

/// Prints an API user with its new key, the only time the key is shown.
fn print_issued(issued: &IssuedKey, json_mode: bool, now: time::OffsetDateTime) {
    if json_mode {
        let api_user: Value = ApiUserAt {
            api_user: &issued.api_user,
            now,
        }
        .json();
        print_json(&json!({"api_user": api_user, "key": issued.key.expose()}));
    } else {
        println!(
            "api user: {} ({})",
            issued.api_user.username, issued.api_user.id
        );
        println!("key (shown once, store it now): {}", issued.key.expose());
    }
}

//! `account list` and `account create`.

use super::{Direct, op_error, parse};
use crate::args::AccountAction;
use crate::output::{Row, output, print_rows};
use anyhow::Result;
use countersign_core::directory::Account;
use countersign_core::ids::EnvironmentId;

/// Runs an `account` subcommand.
pub async fn run(direct: &Direct, action: AccountAction, json_mode: bool) -> Result<()> {
    let (ops, org) = (&direct.ops, direct.organization);
    match action {
        AccountAction::List => {
            let accounts = ops.store.list_all::<Account>(org, usize::MAX).await?;
            print_rows(json_mode, &accounts);
        }
        AccountAction::Create { env, name } => {
            let account = ops
                .create_account(
                    &direct.actor,
                    parse(&env, EnvironmentId::parse, "--env")?,
                    &name,
                )
                .await
                .map_err(op_error)?;
            // The new account's table leaves out the environment it was just created in.
            output(
                json_mode,
                &account.json(),
                &["id", "number", "name"],
                vec![vec![account.id.to_string(), account.number, account.name]],
            );
        }
    }
    Ok(())
}

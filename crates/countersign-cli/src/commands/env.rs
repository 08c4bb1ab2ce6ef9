//! `env list`, `env create` and `env add-admin`.

use super::{Direct, op_error, parse};
use crate::args::EnvAction;
use crate::output::{print_row, print_rows};
use anyhow::{Result, anyhow};
use countersign_core::directory::Environment;
use countersign_core::directory::EnvironmentKind;
use countersign_core::ids::{EnvironmentId, UserId};

/// Runs an `env` subcommand.
pub async fn run(direct: &Direct, action: EnvAction, json_mode: bool) -> Result<()> {
    let (ops, org) = (&direct.ops, direct.organization);
    match action {
        EnvAction::List => {
            let environments = ops.store.list_all::<Environment>(org, usize::MAX).await?;
            print_rows(json_mode, &environments);
        }
        EnvAction::Create { name, kind } => {
            let kind = EnvironmentKind::parse(&kind)
                .ok_or_else(|| anyhow!("kind must be production or sandbox"))?;
            let environment = ops
                .create_environment(&direct.actor, &name, kind)
                .await
                .map_err(op_error)?;
            print_row(json_mode, &environment);
        }
        EnvAction::AddAdmin { env, user } => {
            ops.add_environment_admin(
                &direct.actor,
                parse(&env, EnvironmentId::parse, "--env")?,
                parse(&user, UserId::parse, "--user")?,
            )
            .await
            .map_err(op_error)?;
            println!("done");
        }
    }
    Ok(())
}

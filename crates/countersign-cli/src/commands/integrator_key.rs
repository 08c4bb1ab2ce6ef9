//! `integrator-key list`, `integrator-key create` and `integrator-key revoke`.

use super::{Direct, op_error, parse};
use crate::args::IntegratorKeyAction;
use crate::output::{output, print_rows};
use anyhow::Result;
use countersign_core::directory::IntegratorKey;
use countersign_core::ids::IntegratorKeyId;
use serde_json::json;

/// Runs an `integrator-key` subcommand.
pub async fn run(direct: &Direct, action: IntegratorKeyAction, json_mode: bool) -> Result<()> {
    let (ops, org) = (&direct.ops, direct.organization);
    match action {
        IntegratorKeyAction::List => {
            let keys = ops.store.list_all::<IntegratorKey>(org, usize::MAX).await?;
            print_rows(json_mode, &keys);
        }
        IntegratorKeyAction::Create { name, key } => {
            let k = ops
                .create_integrator_key(&direct.actor, &name, key.as_deref())
                .await
                .map_err(op_error)?;
            // A new key has no sunset yet: neither the table nor the JSON shows one.
            output(
                json_mode,
                &json!({"id": k.id, "key": k.key, "name": k.name, "status": k.status.as_str()}),
                &["id", "key", "name"],
                vec![vec![k.id.to_string(), k.key, k.name]],
            );
        }
        IntegratorKeyAction::Revoke { id } => {
            ops.revoke_integrator_key(&direct.actor, parse(&id, IntegratorKeyId::parse, "--id")?)
                .await
                .map_err(op_error)?;
            println!("revoked");
        }
    }
    Ok(())
}

//! `user` subcommands: list, create, enable and disable, passwords, memberships.

use super::{Direct, op_error, parse};
use crate::args::UserAction;
use crate::output::{Row, output, print_row, print_rows};
use crate::stdin::read_line_stdin;
use anyhow::{Result, anyhow, bail};
use countersign_core::directory::{Permissions, User, UserStatus};
use countersign_core::ids::{AccountId, UserId};
use serde_json::json;

/// Runs a `user` subcommand.
pub async fn run(direct: &Direct, action: UserAction, json_mode: bool) -> Result<()> {
    let (ops, actor, org) = (&direct.ops, &direct.actor, direct.organization);
    // Enabling and disabling show only the id and the new status.
    let print_status = |user: &User| {
        output(
            json_mode,
            &user.json(),
            &["id", "status"],
            vec![vec![user.id.to_string(), user.status.as_str().into()]],
        );
    };
    match action {
        UserAction::List => {
            let users = ops.store.list_all::<User>(org, usize::MAX).await?;
            print_rows(json_mode, &users);
        }
        UserAction::Create {
            email,
            name,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_line_stdin("password")?)
            } else {
                None
            };
            let name = name.unwrap_or_else(|| email.clone());
            let user = ops
                .create_user(actor, &email, &name, password)
                .await
                .map_err(op_error)?;
            print_row(json_mode, &user);
        }
        UserAction::Disable { id } => {
            let user = ops
                .update_user(
                    actor,
                    parse(&id, UserId::parse, "--id")?,
                    None,
                    Some(UserStatus::Disabled),
                )
                .await
                .map_err(op_error)?;
            print_status(&user);
        }
        UserAction::Enable { id } => {
            let user = ops
                .update_user(
                    actor,
                    parse(&id, UserId::parse, "--id")?,
                    None,
                    Some(UserStatus::Active),
                )
                .await
                .map_err(op_error)?;
            print_status(&user);
        }
        UserAction::Password { id, email } => {
            let id = match (id, email) {
                (Some(id), _) => parse(&id, UserId::parse, "--id")?,
                (None, Some(email)) => {
                    ops.store
                        .find_user_by_email(org, &email)
                        .await?
                        .ok_or_else(|| anyhow!("no user with email {email}"))?
                        .id
                }
                (None, None) => bail!("give --id or --email"),
            };
            let password = read_line_stdin("password")?;
            ops.set_password(actor, id, password)
                .await
                .map_err(op_error)?;
            println!("password set");
        }
        UserAction::ResetApiPassword { id } => {
            let removed = ops
                .reset_api_passwords(actor, parse(&id, UserId::parse, "--id")?)
                .await
                .map_err(op_error)?;
            println!("{removed} API password(s) ended");
        }
        UserAction::Membership {
            user,
            account,
            permissions,
            default,
        } => {
            let permissions = Permissions::parse_names(&permissions)
                .map_err(|name| anyhow!("unknown permission {name}"))?;
            let m = ops
                .put_membership(
                    actor,
                    parse(&user, UserId::parse, "--user")?,
                    parse(&account, AccountId::parse, "--account")?,
                    permissions,
                    default,
                )
                .await
                .map_err(op_error)?;
            output(
                json_mode,
                &json!({"user_id": m.user_id, "account_id": m.account_id, "permissions": m.permissions.names(), "is_default": m.is_default}),
                &["user_id", "account_id", "permissions", "default"],
                vec![vec![
                    m.user_id.to_string(),
                    m.account_id.to_string(),
                    m.permissions.names().join(","),
                    m.is_default.to_string(),
                ]],
            );
        }
        UserAction::RemoveMembership { user, account } => {
            ops.delete_membership(
                actor,
                parse(&user, UserId::parse, "--user")?,
                parse(&account, AccountId::parse, "--account")?,
            )
            .await
            .map_err(op_error)?;
            println!("removed");
        }
    }
    Ok(())
}

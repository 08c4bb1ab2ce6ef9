//! `legacy` subcommands: who still uses the legacy header, sunsets, the organization switch, and
//! moving an integrator key's usage onto an API user (plan, then migrate).

use super::{Direct, op_error, parse, parse_time};
use crate::args::LegacyAction;
use crate::output::{Row, print_json, print_rows, scope_text, time_text};
use anyhow::{Context, Result, bail};
use countersign_core::ids::IntegratorKeyId;
use countersign_server::ops;
use countersign_store::UsageRow;
use serde_json::{Value, json};

impl Row for UsageRow {
    const HEADERS: &'static [&'static str] = &[
        "integrator_key",
        "user",
        "on_behalf_of",
        "requests",
        "last_seen_at",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.integrator_key_name.clone(),
            self.user_email.clone(),
            self.on_behalf_of_user_id
                .map_or_else(|| "-".into(), |id| id.to_string()),
            self.requests.to_string(),
            time_text(Some(self.last_seen_at)),
        ]
    }

    fn json(&self) -> Value {
        let r = self;
        json!({
            "integrator_key_id": r.integrator_key_id, "integrator_key_name": r.integrator_key_name,
            "user_id": r.user_id, "user_email": r.user_email, "on_behalf_of_user_id": r.on_behalf_of_user_id,
            "account_ids": r.accounts.iter().map(|(a, _)| a.to_string()).collect::<Vec<_>>(), "requests": r.requests,
            "first_seen_at": time_text(Some(r.first_seen_at)), "last_seen_at": time_text(Some(r.last_seen_at)),
            "source_ips": r.source_ips, "user_agents": r.user_agents,
        })
    }
}

/// Runs a `legacy` subcommand.
pub async fn run(direct: &Direct, action: LegacyAction, json_mode: bool) -> Result<()> {
    let (ops, actor, org) = (&direct.ops, &direct.actor, direct.organization);
    let key_id = |text: &str| parse(text, IntegratorKeyId::parse, "--integrator-key");
    match action {
        LegacyAction::Usage {
            integrator_key,
            since,
        } => {
            let key = integrator_key.as_deref().map(key_id).transpose()?;
            let since = parse_time(since, "--since must be RFC 3339")?;
            let rows = ops.store.list_legacy_usage(org, key, since).await?;
            print_rows(json_mode, &rows);
        }
        LegacyAction::Sunset {
            integrator_key,
            at,
            clear,
        } => {
            let at = match (at, clear) {
                (Some(at), false) => Some(
                    time::OffsetDateTime::parse(
                        &at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .context("--at must be RFC 3339")?,
                ),
                (None, true) => None,
                _ => bail!("give --at TIME or --clear"),
            };
            let key = ops
                .set_integrator_key_sunset(actor, key_id(&integrator_key)?, at)
                .await
                .map_err(op_error)?;
            println!(
                "{}: legacy sunset {}",
                key.name,
                time_text(key.legacy_sunset_at)
            );
        }
        LegacyAction::Switch { state } => {
            let enabled = match state.as_str() {
                "on" => true,
                "off" => false,
                _ => bail!("--state must be on or off"),
            };
            let organization = ops
                .set_legacy_header_enabled(actor, enabled)
                .await
                .map_err(op_error)?;
            println!(
                "legacy header {} for {}",
                if organization.legacy_header_enabled {
                    "on"
                } else {
                    "off"
                },
                organization.name
            );
        }
        LegacyAction::Plan { integrator_key } => {
            let plan = ops
                .migration_plan(actor, key_id(&integrator_key)?)
                .await
                .map_err(op_error)?;
            let value = json!({
                "scope": scope_text(&plan.scope),
                "users": plan.users.iter().map(|u| json!({"id": u.id, "email": u.email, "requests": u.requests})).collect::<Vec<_>>(),
                "accounts": plan.accounts.iter().map(|a| json!({"id": a.id, "number": a.number, "environment_id": a.environment_id, "requests": a.requests})).collect::<Vec<_>>(),
                "covered_requests": plan.coverage.covered,
                "total_requests": plan.coverage.total,
                "uncovered": plan.coverage.uncovered.iter().map(|(u, why)| json!({"user_id": u.user_id, "requests": u.requests, "reason": why.reason()})).collect::<Vec<_>>(),
            });
            if json_mode {
                print_json(&value);
            } else {
                println!("proposed scope: {}", scope_text(&plan.scope));
                println!(
                    "dry run: {} of {} recorded requests covered",
                    plan.coverage.covered, plan.coverage.total
                );
                for user in &plan.users {
                    println!("  acts as {} ({} requests)", user.email, user.requests);
                }
                for (recorded, why) in &plan.coverage.uncovered {
                    println!(
                        "  not covered: {} requests as {}: {}",
                        recorded.requests,
                        recorded.user_id,
                        why.reason()
                    );
                }
            }
        }
        LegacyAction::Migrate {
            integrator_key,
            username,
            expires_at,
        } => {
            let expires_at = ops::parse_expiry(&expires_at).map_err(op_error)?;
            let migrated = ops
                .migrate_integrator_key(
                    actor,
                    key_id(&integrator_key)?,
                    &username,
                    expires_at,
                    &direct.public_url,
                )
                .await
                .map_err(op_error)?;
            if json_mode {
                print_json(&json!({
                    "api_user": {"id": migrated.issued.api_user.id, "username": migrated.issued.api_user.username, "scope": scope_text(&migrated.issued.api_user.scope)},
                    "key": migrated.issued.key.expose(),
                    "snippet": migrated.snippet,
                }));
            } else {
                println!(
                    "api user: {} ({}) scope {}",
                    migrated.issued.api_user.username,
                    migrated.issued.api_user.id,
                    scope_text(&migrated.issued.api_user.scope)
                );
                println!(
                    "key (shown once, store it now): {}",
                    migrated.issued.key.expose()
                );
                println!();
                println!("{}", migrated.snippet);
            }
        }
    }
    Ok(())
}

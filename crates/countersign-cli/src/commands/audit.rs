//! `audit list`: the audit log, newest first.

use super::{Direct, parse_time};
use crate::args::AuditAction;
use crate::output::{Row, print_rows, time_text};
use anyhow::Result;
use countersign_store::{AuditFilter, AuditRecord};
use serde_json::{Value, json};

impl Row for AuditRecord {
    const HEADERS: &'static [&'static str] = &["id", "at", "actor", "action", "subject", "outcome"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            time_text(Some(self.event.at)),
            self.event.actor.clone(),
            self.event.action.clone(),
            self.event.subject.clone(),
            self.event.outcome.as_str().into(),
        ]
    }

    fn json(&self) -> Value {
        let r = self;
        json!({"id": r.id.to_string(), "at": time_text(Some(r.event.at)), "actor": r.event.actor, "action": r.event.action, "subject": r.event.subject, "source_ip": r.event.source_ip, "outcome": r.event.outcome.as_str()})
    }
}

/// Runs an `audit` subcommand.
pub async fn run(direct: &Direct, action: AuditAction, json_mode: bool) -> Result<()> {
    match action {
        AuditAction::List {
            actor,
            action,
            since,
            until,
            limit,
            all,
        } => {
            let filter = AuditFilter {
                organization_id: (!all).then_some(direct.organization),
                actor,
                action,
                since: parse_time(since, "times must be RFC 3339")?,
                until: parse_time(until, "times must be RFC 3339")?,
            };
            // `--limit` chooses how many of the newest events to show: one page, by design.
            let page = direct
                .ops
                .store
                .list_audit_events(&filter, None, limit.clamp(1, 1000))
                .await?;
            print_rows(json_mode, &page.items);
        }
    }
    Ok(())
}

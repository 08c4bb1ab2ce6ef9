//! Rendering results: an aligned table by default, pretty JSON with `--json`. An entity listed by
//! several commands implements `Row` once, so its columns and its JSON fields stay together.

use countersign_core::api_user::{ApiUser, Scope};
use countersign_core::directory::{Account, Environment, IntegratorKey, User};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// One entity as a table row and as a JSON object.
pub trait Row {
    /// The table's column names, lowercase (printed uppercase).
    const HEADERS: &'static [&'static str];
    /// The cells of this entity's row, one per header.
    fn cells(&self) -> Vec<String>;
    /// This entity as JSON (may hold more fields than the table shows).
    fn json(&self) -> Value;
}

/// Prints entities as a table, or as a JSON array.
pub fn print_rows<R: Row>(json_mode: bool, items: &[R]) {
    output(
        json_mode,
        &json!(items.iter().map(Row::json).collect::<Vec<_>>()),
        R::HEADERS,
        items.iter().map(Row::cells).collect(),
    );
}

/// Prints one entity as a one-row table, or as a JSON object.
pub fn print_row<R: Row>(json_mode: bool, item: &R) {
    output(json_mode, &item.json(), R::HEADERS, vec![item.cells()]);
}

/// Prints a value as pretty JSON.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Prints rows as an aligned table, or the JSON value.
pub fn output(json_mode: bool, value: &Value, headers: &[&str], rows: Vec<Vec<String>>) {
    if json_mode {
        print_json(value);
        return;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!(
        "{}",
        line(headers.iter().map(|h| h.to_uppercase()).collect())
    );
    for row in rows {
        println!("{}", line(row));
    }
}

/// An RFC 3339 time to the second, or `-`.
pub fn time_text(at: Option<OffsetDateTime>) -> String {
    at.map(|at| {
        at.replace_nanosecond(0)
            .unwrap_or(at)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    })
    .unwrap_or_else(|| "-".into())
}

/// A scope as `--scope` accepts it.
pub fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::User(user) => format!("user:{user}"),
        Scope::Environment(environment) => format!("environment:{environment}"),
        Scope::Organization => "organization".into(),
    }
}

impl Row for Environment {
    const HEADERS: &'static [&'static str] = &["id", "name", "kind"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.name.clone(),
            self.kind.as_str().into(),
        ]
    }

    fn json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "kind": self.kind.as_str()})
    }
}

impl Row for Account {
    const HEADERS: &'static [&'static str] = &["id", "number", "name", "environment_id"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.number.clone(),
            self.name.clone(),
            self.environment_id.to_string(),
        ]
    }

    fn json(&self) -> Value {
        json!({"id": self.id, "number": self.number, "name": self.name, "environment_id": self.environment_id})
    }
}

impl Row for User {
    const HEADERS: &'static [&'static str] = &["id", "email", "name", "status"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.email.clone(),
            self.name.clone(),
            self.status.as_str().into(),
        ]
    }

    fn json(&self) -> Value {
        json!({"id": self.id, "email": self.email, "name": self.name, "status": self.status.as_str()})
    }
}

impl Row for IntegratorKey {
    const HEADERS: &'static [&'static str] = &["id", "key", "name", "status", "sunset"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.key.clone(),
            self.name.clone(),
            self.status.as_str().into(),
            time_text(self.legacy_sunset_at),
        ]
    }

    fn json(&self) -> Value {
        json!({"id": self.id, "key": self.key, "name": self.name, "status": self.status.as_str(), "legacy_sunset_at": time_text(self.legacy_sunset_at)})
    }
}

/// An API user as seen at `now` (its status depends on the time).
pub struct ApiUserAt<'a> {
    /// The API user.
    pub api_user: &'a ApiUser,
    /// The time its status is judged at.
    pub now: OffsetDateTime,
}

impl Row for ApiUserAt<'_> {
    const HEADERS: &'static [&'static str] = &[
        "id",
        "username",
        "scope",
        "expires_at",
        "status",
        "last_used_at",
    ];

    fn cells(&self) -> Vec<String> {
        let a = self.api_user;
        vec![
            a.id.to_string(),
            a.username.clone(),
            scope_text(&a.scope),
            time_text(Some(a.expires_at)),
            a.status(self.now).as_str().into(),
            time_text(a.last_used_at),
        ]
    }

    fn json(&self) -> Value {
        let a = self.api_user;
        json!({
            "id": a.id, "username": a.username, "scope": scope_text(&a.scope), "expires_at": time_text(Some(a.expires_at)),
            "status": a.status(self.now).as_str(), "created_by": a.created_by, "last_used_at": time_text(a.last_used_at),
        })
    }
}

//! The original URI a proxy reports (SPEC §3): arbitrary bytes through
//! `PathAccounts::from_original_uri` and the bearer decision of `countersign_core::decide`, for
//! a user who belongs to account 1001 only.
//!
//! The oracle is written here from the SPEC, not from the code: it plays the upstreams a proxy
//! may hand the URI to — one that routes on the raw path, one that percent-decodes and removes
//! dot segments (RFC 3986 §5.2.4, clamping at the root as browsers do), one that also merges
//! `//` (nginx `merge_slashes`), one that also strips `;params` (Tomcat, Jetty) — and asks each
//! which account the request would reach. Whenever the decision grants, every upstream must
//! reach 1001 or no account at all; a grant where some upstream reaches another account (or
//! cannot read the URI) is the bug this target hunts.
#![no_main]

use countersign_core::access::{AccountRequest, UserContext};
use countersign_core::api_user::Scope;
use countersign_core::decide;
use countersign_core::directory::{Membership, Permissions};
use countersign_core::ids::{AccountId, EnvironmentId, UserId};
use countersign_core::uri::PathAccounts;
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

const MINE: &str = "1001";

fn mine() -> Membership {
    Membership {
        user_id: UserId(Uuid::from_u128(1)),
        account_id: AccountId(Uuid::from_u128(0x1001)),
        account_number: MINE.into(),
        account_name: "mine".into(),
        environment_id: EnvironmentId(Uuid::from_u128(1)),
        permissions: Permissions::SEND,
        is_default: true,
    }
}

/// Percent-decodes leniently (a malformed escape stays as it is).
fn decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(value) = escape {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The accounts an upstream reaches through a path: the segment after every `accounts`.
/// `None`: the path holds an `accounts` segment followed by nothing readable as a name.
fn reached(segments: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for pair in segments.windows(2) {
        if pair[0].eq_ignore_ascii_case("accounts") {
            found.push(pair[1].clone());
        }
    }
    found
}

/// Dot segments removed, `..` at the root dropped (browsers and most servers clamp).
fn clamp_dots(segments: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for segment in segments {
        match segment.as_str() {
            "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(segment),
        }
    }
    out
}

/// Every upstream's reading of the path, or `None` when an upstream could not read it at all
/// (then nothing can be said about where it goes).
fn upstream_readings(uri: &str) -> Option<Vec<Vec<String>>> {
    // Absolute-form (`http://host/path`): the upstream routes on the path after the authority.
    let lower = uri.to_ascii_lowercase();
    let origin_form = ["http://", "https://"]
        .iter()
        .find(|scheme| lower.starts_with(*scheme))
        .map_or(uri, |scheme| {
            let after = &uri[scheme.len()..];
            after.find(['/', '?', '#']).map_or("", |at| &after[at..])
        });
    let path = origin_form.split(['?', '#']).next().unwrap_or_default();
    let raw: Vec<String> = path.split('/').map(str::to_owned).collect();
    let decoded = String::from_utf8(decode(path)).ok()?;
    // A decoded path is split again: an encoded `/` (or `\` on some servers) becomes a
    // separator there.
    let decoded_segments: Vec<String> = decoded.split(['/', '\\']).map(str::to_owned).collect();
    let normalized = clamp_dots(decoded_segments.clone());
    let merged = clamp_dots(
        decoded_segments
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect(),
    );
    let stripped = clamp_dots(
        decoded_segments
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.split(';').next().unwrap_or_default().to_owned())
            .collect(),
    );
    Some(vec![raw, normalized, merged, stripped])
}

fuzz_target!(|data: &[u8]| {
    let path = PathAccounts::from_original_uri(data);
    assert_eq!(path, PathAccounts::from_original_uri(data), "not deterministic");
    let memberships = [mine()];
    let context = UserContext {
        username: "bob@example.com".into(),
        context_id: None,
    };
    for user_context in [None, Some(&context)] {
        let request = AccountRequest {
            user_context,
            path: &path,
        };
        let granted = decide::bearer(&Scope::Organization, "bob@example.com", &memberships, &request);
        let Ok(membership) = granted else {
            continue;
        };
        assert_eq!(membership.account_number, MINE);
        // A grant: the URI was UTF-8, and every upstream reaches MINE or nothing.
        let uri = std::str::from_utf8(data).expect("a granted URI is UTF-8");
        let readings = upstream_readings(uri).expect("a granted URI decodes to UTF-8");
        for reading in readings {
            for account in reached(&reading) {
                let name = account.split(';').next().unwrap_or_default();
                assert_eq!(
                    name, MINE,
                    "granted, but an upstream reaches account {account:?} through {uri:?}"
                );
            }
        }
    }
});

//! The users and API users of the directory: every combination of permissions, scopes and
//! states the oracle must judge.

use super::*;

pub(crate) struct PersonSpec {
    pub(crate) label: String,
    pub(crate) email: String,
    pub(crate) organization: usize,
    pub(crate) password: Option<String>,
    pub(crate) members: Vec<Member>,
    pub(crate) disabled: bool,
}

pub(crate) fn user_spec(
    label: &str,
    email: &str,
    organization: usize,
    password: Option<&str>,
    members: Vec<Member>,
) -> PersonSpec {
    PersonSpec {
        label: label.to_owned(),
        email: email.to_owned(),
        organization,
        password: password.map(str::to_owned),
        members,
        disabled: false,
    }
}

/// The users besides the bootstrap administrator.
pub(crate) fn person_specs() -> Vec<PersonSpec> {
    let mut specs = Vec::new();
    // Every one of the 16 permission combinations in A1, each user with one of four membership
    // layouts: A1 alone (default or not); A1 default + A2; A1 + sandbox A3 without a default;
    // A1 + A2 default + sandbox A4.
    for bits in 0..16u8 {
        let other = (bits * 7 + 5) % 16;
        let third = (bits * 3 + 1) % 16;
        let members = match bits % 4 {
            0 => vec![member(A1, bits, bits % 8 == 0)],
            1 => vec![member(A1, bits, true), member(A2, other, false)],
            2 => vec![member(A1, bits, false), member(A3, other, false)],
            _ => vec![
                member(A1, bits, false),
                member(A2, other, true),
                member(A4, third, false),
            ],
        };
        let label = format!("p{bits:02} [{}]", permission_names(bits).join(","));
        specs.push(user_spec(
            &label,
            &format!("p{bits}@a.test"),
            ORG_A,
            Some(&format!("password-of-p{bits}")),
            members,
        ));
    }
    let sobo_rights = SEND | SOBO | ACCOUNT_WIDE;
    specs.extend([
        user_spec(
            "sandbox-only",
            "sandbox.only@a.test",
            ORG_A,
            Some("password-sandbox-only"),
            vec![member(A3, sobo_rights, false)],
        ),
        user_spec(
            "two-sandbox-accounts",
            "two.sandbox@a.test",
            ORG_A,
            Some("password-two-sandbox"),
            vec![member(A3, SEND, false), member(A4, sobo_rights, false)],
        ),
        PersonSpec {
            disabled: true,
            ..user_spec(
                "disabled (A)",
                "disabled@a.test",
                ORG_A,
                Some("password-disabled-a"),
                vec![member(A1, ALL, true), member(A2, ALL, false)],
            )
        },
        user_spec(
            "no membership (A)",
            "nomember@a.test",
            ORG_A,
            Some("password-nomember-a"),
            vec![],
        ),
        user_spec(
            "no password",
            "nopassword@a.test",
            ORG_A,
            None,
            vec![member(A1, SEND, true)],
        ),
        user_spec(
            "shared email (A)",
            "shared@example.test",
            ORG_A,
            Some("shared-password-A"),
            vec![member(A1, sobo_rights, false), member(A4, SEND, true)],
        ),
        user_spec(
            "mixed-case email, special password",
            "Mixed.Case@A.test",
            ORG_A,
            Some("p&ss<w>\"rd'x!"),
            vec![member(A2, ALL, true)],
        ),
        user_spec(
            "b0",
            "b0@b.test",
            ORG_B,
            Some("password-b0"),
            vec![member(B1, ALL, true), member(B2, SEND, false)],
        ),
        user_spec(
            "b1",
            "b1@b.test",
            ORG_B,
            Some("password-b1"),
            vec![member(B1, SEND, false)],
        ),
        user_spec(
            "b2",
            "b2@b.test",
            ORG_B,
            Some("password-b2"),
            vec![
                member(B1, SOBO | ACCOUNT_WIDE, false),
                member(B3, SEND, false),
            ],
        ),
        user_spec(
            "b3",
            "b3@b.test",
            ORG_B,
            Some("password-b3"),
            vec![member(B3, sobo_rights, false)],
        ),
        user_spec(
            "b4",
            "b4@b.test",
            ORG_B,
            Some("password-b4"),
            vec![
                member(B1, SEND | ACCOUNT_WIDE, false),
                member(B2, sobo_rights | ADMIN, true),
            ],
        ),
        user_spec(
            "b5 (no permissions)",
            "b5@b.test",
            ORG_B,
            Some("password-b5"),
            vec![member(B2, 0, false)],
        ),
        user_spec(
            "shared email (B)",
            "shared@example.test",
            ORG_B,
            Some("shared-password-B"),
            vec![member(B1, sobo_rights, true)],
        ),
        PersonSpec {
            disabled: true,
            ..user_spec(
                "disabled (B)",
                "disabled@b.test",
                ORG_B,
                Some("password-disabled-b"),
                vec![member(B1, ALL, true)],
            )
        },
        user_spec(
            "no membership (B)",
            "nomember@b.test",
            ORG_B,
            Some("password-nomember-b"),
            vec![],
        ),
    ]);
    specs
}

#[derive(Clone, Copy)]
pub(crate) enum ScopeSpec {
    /// The user with this email in the API user's organization.
    User(&'static str),
    Environment(usize),
    Organization,
}

pub(crate) struct ApiUserSpec {
    pub(crate) username: &'static str,
    /// What the integration sends (SPEC §2: usernames match in any case).
    pub(crate) sent: &'static str,
    pub(crate) organization: usize,
    pub(crate) scope: ScopeSpec,
    pub(crate) short_lived: bool,
    pub(crate) revoked: bool,
    pub(crate) rotated: bool,
}

pub(crate) fn api_user(
    username: &'static str,
    organization: usize,
    scope: ScopeSpec,
) -> ApiUserSpec {
    ApiUserSpec {
        username,
        sent: username,
        organization,
        scope,
        short_lived: false,
        revoked: false,
        rotated: false,
    }
}

pub(crate) fn api_user_specs() -> Vec<ApiUserSpec> {
    vec![
        api_user("a-user-multi", ORG_A, ScopeSpec::User("p3@a.test")),
        api_user("a-user-nomember", ORG_A, ScopeSpec::User("nomember@a.test")),
        api_user("a-user-disabled", ORG_A, ScopeSpec::User("disabled@a.test")),
        api_user("a-env-prod", ORG_A, ScopeSpec::Environment(A_PROD)),
        api_user("a-env-sandbox", ORG_A, ScopeSpec::Environment(A_SANDBOX)),
        api_user("a-org", ORG_A, ScopeSpec::Organization),
        ApiUserSpec {
            revoked: true,
            ..api_user("a-revoked", ORG_A, ScopeSpec::Environment(A_SANDBOX))
        },
        ApiUserSpec {
            short_lived: true,
            ..api_user("a-expired", ORG_A, ScopeSpec::Organization)
        },
        ApiUserSpec {
            rotated: true,
            ..api_user("a-rotated", ORG_A, ScopeSpec::User("shared@example.test"))
        },
        api_user("b-user-multi", ORG_B, ScopeSpec::User("b0@b.test")),
        api_user("b-env-prod", ORG_B, ScopeSpec::Environment(B_PROD)),
        api_user("b-env-sandbox", ORG_B, ScopeSpec::Environment(B_SANDBOX)),
        ApiUserSpec {
            sent: "B-Org",
            ..api_user("b-org", ORG_B, ScopeSpec::Organization)
        },
        ApiUserSpec {
            revoked: true,
            ..api_user("b-revoked", ORG_B, ScopeSpec::Organization)
        },
        ApiUserSpec {
            short_lived: true,
            ..api_user("b-expired", ORG_B, ScopeSpec::Environment(B_PROD))
        },
    ]
}

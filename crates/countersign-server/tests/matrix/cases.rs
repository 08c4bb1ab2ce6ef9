//! The cases: every credential × context user × `X-AS-UserContext` × original URI ×
//! Send-On-Behalf-Of combination, each with the oracle's expectation.

use super::*;

// ---------------------------------------------------------------------------------------------
// Cases.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Bearer,
    Legacy,
    Other,
}

impl Dialect {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Legacy => "legacy",
            Self::Other => "other",
        }
    }
}

pub(crate) struct Case {
    pub(crate) dialect: Dialect,
    pub(crate) description: String,
    pub(crate) expected: Expect,
    /// Headers of the `/v1/verify` request; `None` when the outcome is already known (the token
    /// exchange was refused, so every request of that pair has that outcome).
    pub(crate) request: Option<Vec<(&'static str, String)>>,
    /// The original-URI headers sent with the request.
    pub(crate) uri: UriHeaders,
    pub(crate) known: Option<Actual>,
}

/// What an original URI means under SPEC §3 and §6.1, known by construction: the accounts its
/// `accounts/{id}` pairs name in any reading (as sent, then decoded with dot segments removed;
/// the first as sent is the effective one), or why it must be refused.
#[derive(Clone, Debug)]
pub(crate) enum UriMeaning {
    Names(Vec<String>),
    Refused(&'static str),
}

/// Original-URI headers, as raw bytes.
pub(crate) type UriHeaders = Vec<(&'static str, Vec<u8>)>;

/// The original-URI headers of case `index` naming `account` (SPEC §3, §6.1), in one of the
/// forms a proxy may pass on: each of the three header names, dot segments as sent and
/// percent-encoded, several `accounts/{id}` pairs, headers that agree or disagree — and the
/// forms that must be refused: an encoded slash, backslash or NUL, an empty account segment, a
/// byte that is not UTF-8 (raw or percent-encoded), a dot segment above the root. Merged-slash
/// climbs and `;params` name the accounts every reading reaches. `anchor` is another account reference the form may
/// mention beside `account`.
pub(crate) fn uri_form(
    index: usize,
    account: Option<&str>,
    anchor: &str,
) -> (UriHeaders, UriMeaning) {
    let names = |list: &[&str]| UriMeaning::Names(list.iter().map(|s| (*s).to_owned()).collect());
    let one = |name: &'static str, uri: String| vec![(name, uri.into_bytes())];
    let Some(r) = account else {
        return match index % 4 {
            0 => (
                one("X-Original-URI", "/restapi/v2.1/login_information".into()),
                names(&[]),
            ),
            2 => {
                let mut uri = b"/restapi/v2.1/login_information?".to_vec();
                uri.push(0xFF);
                (
                    vec![("X-Forwarded-Uri", uri)],
                    UriMeaning::Refused("the original URI is not UTF-8"),
                )
            }
            _ => (Vec::new(), names(&[])),
        };
    };
    let plain = format!("/restapi/v2.1/accounts/{r}/envelopes");
    match index % 17 {
        0 => (one("X-Original-URI", plain), names(&[r])),
        1 => (one("X-Forwarded-Uri", plain), names(&[r])),
        2 => (one("X-Envoy-Original-Path", plain), names(&[r])),
        3 => (
            one(
                "X-Original-URI",
                format!("/restapi/v2.1/accounts/{anchor}/envelopes/../../{r}/envelopes"),
            ),
            names(&[anchor, r]),
        ),
        4 => (
            one(
                "X-Forwarded-Uri",
                format!("/restapi/v2.1/accounts/{anchor}/%2e%2E/{r}/envelopes"),
            ),
            names(&[anchor, r]),
        ),
        5 => (
            one(
                "X-Original-URI",
                format!("/restapi/v2.1/accounts%2F{r}/envelopes"),
            ),
            UriMeaning::Refused("an encoded slash"),
        ),
        6 => (
            one(
                "X-Original-URI",
                format!("/restapi/v2.1/accounts//{r}/envelopes"),
            ),
            UriMeaning::Refused("an empty segment after accounts"),
        ),
        7 => {
            let mut uri = plain.into_bytes();
            uri.extend_from_slice(b"?\xff");
            (
                vec![("X-Original-URI", uri)],
                UriMeaning::Refused("the original URI is not UTF-8"),
            )
        }
        8 => (
            one(
                "X-Envoy-Original-Path",
                format!("/restapi/v2.1/accounts/{r}/x/accounts/{anchor}/envelopes"),
            ),
            names(&[r, anchor]),
        ),
        9 => {
            let other = format!("/restapi/v2.1/accounts/{anchor}/envelopes");
            let meaning = if other == plain {
                names(&[r])
            } else {
                UriMeaning::Refused("the original-URI headers disagree")
            };
            (
                vec![
                    ("X-Original-URI", plain.into_bytes()),
                    ("X-Forwarded-Uri", other.into_bytes()),
                ],
                meaning,
            )
        }
        10 => (
            one(
                "X-Original-URI",
                format!("/restapi/v2.1/accounts/{r}%00/envelopes"),
            ),
            UriMeaning::Refused("an encoded NUL"),
        ),
        11 => (
            one(
                "X-Forwarded-Uri",
                format!("/../restapi/v2.1/accounts/{r}/envelopes"),
            ),
            UriMeaning::Refused("a dot segment above the root"),
        ),
        12 => (
            one(
                "X-Original-URI",
                format!("/restapi/v2.1/accounts/{r}/envelopes%ff"),
            ),
            UriMeaning::Refused("the original URI is not UTF-8 once decoded"),
        ),
        13 => (
            one(
                "X-Forwarded-Uri",
                format!("/restapi/v2.1/accounts%5C{r}/envelopes"),
            ),
            UriMeaning::Refused("an encoded backslash"),
        ),
        // As sent and with empty segments kept, `x//../..` climbs to `anchor`; with them
        // merged (nginx's merge_slashes), to `r`: both are named.
        14 => (
            one(
                "X-Original-URI",
                format!("/restapi/v2.1/accounts/{anchor}/x//../../{r}/envelopes"),
            ),
            names(&[anchor, r]),
        ),
        // `;params` are stripped for matching (as servlet containers do).
        15 => (
            one(
                "X-Envoy-Original-Path",
                format!("/restapi/v2.1/accounts;v=1/{r}/envelopes"),
            ),
            names(&[r]),
        ),
        _ => {
            let other = format!("/restapi/v2.1/accounts/{anchor}/envelopes");
            let meaning = if other == plain {
                names(&[r])
            } else {
                UriMeaning::Refused("X-Envoy-Original-Path disagrees with X-Original-URI")
            };
            (
                vec![
                    ("X-Envoy-Original-Path", other.into_bytes()),
                    ("X-Original-URI", plain.into_bytes()),
                ],
                meaning,
            )
        }
    }
}

pub(crate) fn show_uri(headers: &UriHeaders) -> String {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Path-account variants: absent, every account by UUID and by number, unknown ones.
pub(crate) fn path_variants(dir: &Directory) -> Vec<(String, Option<String>)> {
    let mut variants = vec![("absent".to_owned(), None)];
    for account in &dir.accounts {
        variants.push((
            format!("{} by UUID", account.label),
            Some(account.id.clone()),
        ));
        variants.push((
            format!("{} by number", account.label),
            Some(account.number.clone()),
        ));
    }
    variants.push(("unknown number".into(), Some(UNKNOWN_NUMBER.into())));
    variants.push(("unknown UUID".into(), Some(UNKNOWN_ACCOUNT_ID.into())));
    variants
}

/// `X-AS-UserContext` variants for a token acting as `name`.
pub(crate) fn context_variants(
    dir: &Directory,
    name: &str,
    person: Option<usize>,
) -> Vec<Option<String>> {
    let mut variants = vec![None, Some(name.to_uppercase()), Some(format!("{name}:"))];
    for (index, account) in dir.accounts.iter().enumerate() {
        variants.push(Some(if index % 2 == 0 {
            format!("{name}:{}", account.id)
        } else {
            format!(" {} : {} ", name.to_uppercase(), account.id)
        }));
    }
    // Another user with an account the token's user could use: only the name is wrong.
    let other = if name.eq_ignore_ascii_case(ADMIN_EMAIL) {
        "p1@a.test"
    } else {
        ADMIN_EMAIL
    };
    let account = person
        .and_then(|p| dir.people[p].members.first())
        .map_or(A1, |m| m.account);
    variants.push(Some(format!("{other}:{}", dir.accounts[account].id)));
    variants.push(Some("garbage-user-context".into()));
    variants.push(Some(format!("{name}:not-a-uuid")));
    variants
}

pub(crate) fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// An `X-DocuSign-Authentication` value, JSON or XML (SPEC §5), built here by hand.
pub(crate) fn legacy_header(
    xml: bool,
    username: &str,
    password: &str,
    integrator_key: &str,
    sobo: Option<&str>,
) -> String {
    if xml {
        let sobo = sobo
            .map(|s| format!("<SendOnBehalfOf>{}</SendOnBehalfOf>", xml_escape(s)))
            .unwrap_or_default();
        format!(
            "<DocuSignCredentials><IntegratorKey>{}</IntegratorKey>{sobo}<Username>{}</Username><Password>{}</Password></DocuSignCredentials>",
            xml_escape(integrator_key),
            xml_escape(username),
            xml_escape(password)
        )
    } else {
        let mut value = json!({"Username": username, "Password": password,
                               "IntegratorKey": integrator_key});
        if let Some(sobo) = sobo {
            value["SendOnBehalfOf"] = json!(sobo);
        }
        value.to_string()
    }
}

/// Context usernames for the token exchange: every distinct email, two re-cased, one unknown.
pub(crate) fn context_names(dir: &Directory) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for person in &dir.people {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&person.email)) {
            names.push(person.email.clone());
        }
    }
    names.push("MIXED.CASE@A.TEST".into());
    names.push("B1@B.TEST".into());
    names.push(UNKNOWN_USER.into());
    names
}

pub(crate) async fn bearer_cases(
    app: &TestApp,
    client: &reqwest::Client,
    dir: &Arc<Directory>,
) -> (Vec<Case>, usize, usize) {
    let names = Arc::new(context_names(dir));
    let pairs: Arc<Vec<(usize, usize)>> = Arc::new(
        (0..dir.credentials.len())
            .flat_map(|c| (0..names.len()).map(move |n| (c, n)))
            .collect(),
    );
    let (client, base) = (client.clone(), app.base.clone());
    let (dir_for_work, names_for_work) = (dir.clone(), names.clone());
    let exchanged = run_bounded(pairs.clone(), move |pairs, index| {
        let (client, base) = (client.clone(), base.clone());
        let (dir, names) = (dir_for_work.clone(), names_for_work.clone());
        async move {
            let (credential, name) = pairs[index];
            let credential = &dir.credentials[credential];
            exchange(
                &client,
                &base,
                index % 10,
                (&credential.username, &credential.key),
                &names[name],
            )
            .await
        }
    })
    .await;

    let paths = path_variants(dir);
    let mut cases = Vec::new();
    let mut exchange_mismatches = 0;
    for (&(c, n), actual) in pairs.iter().zip(exchanged) {
        let credential = &dir.credentials[c];
        let name = &names[n];
        let oracle = oracle_exchange(dir, credential, name);
        let pair = format!(
            "bearer: credential {} (apiUsername {:?}), contextUsername {name:?}",
            credential.label, credential.username
        );
        let exchange_ok = match (&oracle, &actual) {
            (Ok(_), Ok(_)) => true,
            (Err(expected), Err(actual)) => judge(expected, actual) == Verdict::Match,
            _ => false,
        };
        if !exchange_ok {
            exchange_mismatches += 1;
        }
        if !exchange_ok && exchange_mismatches <= 20 {
            eprintln!(
                "TOKEN EXCHANGE MISMATCH: {pair}\n    expected {}\n    actual   {}",
                match &oracle {
                    Ok(person) => format!("a token acting as {}", dir.people[*person].label),
                    Err(refusal) => show_expect(dir, refusal),
                },
                match &actual {
                    Ok(_) => "a token".to_owned(),
                    Err(refusal) => show_actual(dir, refusal),
                }
            );
        }
        let person = oracle.as_ref().ok().copied().or_else(|| {
            credential
                .identity
                .as_ref()
                .and_then(|i| dir.find(i.organization, name, false))
        });
        for context in context_variants(dir, name, person) {
            for (path_label, path) in &paths {
                let index = cases.len();
                let (uri, meaning) = uri_form(index, path.as_deref(), &dir.accounts[A1].number);
                let expected = match &oracle {
                    Err(refusal) => refusal.clone(),
                    Ok(person) => oracle_bearer(
                        dir,
                        credential.identity.as_ref().unwrap(),
                        *person,
                        context.as_deref(),
                        &meaning,
                    ),
                };
                let description = format!(
                    "{pair}, X-AS-UserContext {context:?}, path {path_label} [{}]",
                    show_uri(&uri)
                );
                let (request, known) = match &actual {
                    Err(refusal) => (None, Some(refusal.clone())),
                    Ok(token) => {
                        // The scheme matches in any case (SPEC §4).
                        let scheme = ["Bearer", "bearer", "BEARER"][index % 3];
                        let mut headers = vec![("Authorization", format!("{scheme} {token}"))];
                        if let Some(context) = &context {
                            headers.push(("X-AS-UserContext", context.clone()));
                        }
                        (Some(headers), None)
                    }
                };
                cases.push(Case {
                    dialect: Dialect::Bearer,
                    description,
                    expected,
                    request,
                    uri,
                    known,
                });
            }
        }
    }
    (cases, pairs.len(), exchange_mismatches)
}

pub(crate) fn legacy_cases(dir: &Directory) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |username: &str,
                   password: &str,
                   password_label: &str,
                   key: &IntegratorKeyModel,
                   sobo: Option<&str>,
                   path: Option<(&str, &str)>| {
        let index = cases.len();
        let xml = (index / 3) % 2 == 1;
        let value = legacy_header(xml, username, password, &key.key, sobo);
        let (uri, meaning) = uri_form(
            index,
            path.map(|(_, reference)| reference),
            &dir.accounts[A1].number,
        );
        let description = format!(
            "legacy ({}): Username {username:?}, Password {password_label}, IntegratorKey {}, SendOnBehalfOf {sobo:?}, path {} [{}]",
            if xml { "XML" } else { "JSON" },
            key.label,
            path.map_or("absent", |(label, _)| label),
            show_uri(&uri)
        );
        let expected = oracle_legacy(dir, username, password, key, sobo, &meaning);
        cases.push(Case {
            dialect: Dialect::Legacy,
            description,
            expected,
            request: Some(vec![("X-DocuSign-Authentication", value)]),
            uri,
            known: None,
        });
    };
    let path_labels: Vec<(String, String)> = dir
        .accounts
        .iter()
        .flat_map(|a| {
            [
                (format!("{} by number", a.label), a.number.clone()),
                (format!("{} by UUID", a.label), a.id.clone()),
            ]
        })
        .chain([
            ("unknown number".to_owned(), UNKNOWN_NUMBER.to_owned()),
            ("unknown UUID".to_owned(), UNKNOWN_ACCOUNT_ID.to_owned()),
        ])
        .collect();
    let all_paths: Vec<Option<(&str, &str)>> = std::iter::once(None)
        .chain(
            path_labels
                .iter()
                .map(|(l, r)| Some((l.as_str(), r.as_str()))),
        )
        .collect();
    let mut sobo_names: Vec<String> = Vec::new();
    for person in &dir.people {
        if !sobo_names.contains(&person.email) {
            sobo_names.push(person.email.clone());
        }
    }
    sobo_names.push(UNKNOWN_USER.into());
    let all_sobo: Vec<Option<&str>> = std::iter::once(None)
        .chain(sobo_names.iter().map(|s| Some(s.as_str())))
        .collect();
    let no_password = "no-password-set-1";

    // 1. Credentials that can authenticate (the user's own password, an active key of the user's
    //    organization): every Send-On-Behalf-Of user (by email) × every path account (absent,
    //    each account by number, an unknown one; and by UUID without Send-On-Behalf-Of).
    for key in dir.integrator_keys.iter().filter(|k| k.active) {
        let organization = key.organization.unwrap();
        let mut usernames: Vec<(String, String)> = dir
            .people
            .iter()
            .filter(|p| p.organization == organization)
            .map(|p| {
                (
                    p.email.clone(),
                    p.password.clone().unwrap_or_else(|| no_password.into()),
                )
            })
            .collect();
        if organization == ORG_A {
            usernames.push(("mixed.case@a.test".into(), "p&ss<w>\"rd'x!".into()));
            usernames.push((ADMIN_EMAIL.to_uppercase(), ADMIN_PASSWORD.into()));
        }
        for (username, password) in &usernames {
            for sobo in &all_sobo {
                // Accounts by UUID as well as by number without SOBO; by number with it.
                let paths = all_paths.iter().filter(|p| {
                    sobo.is_none() || p.is_none_or(|(label, _)| !label.contains("UUID"))
                });
                for path in paths {
                    add(username, password, "right", key, *sobo, *path);
                }
            }
        }
        // The same users by id, Send-On-Behalf-Of users by id, with and without a path.
        for person in dir.people.iter().filter(|p| p.organization == organization) {
            let password = person.password.as_deref().unwrap_or(no_password);
            let own = person
                .members
                .first()
                .map_or(&dir.accounts[A1].number, |m| {
                    &dir.accounts[m.account].number
                });
            for sobo in std::iter::once(None).chain(dir.people.iter().map(|p| Some(p.id.as_str())))
            {
                for path in [None, Some(("first own account by number", own.as_str()))] {
                    add(&person.id, password, "right", key, sobo, path);
                }
            }
        }
    }

    // 2. Every other credential: wrong passwords, revoked and unknown integrator keys, keys of
    //    the other organization, unknown users; a few SOBO users and paths each.
    let few_sobo = [None, Some("p1@a.test"), Some("b1@b.test")];
    let few_paths = [
        None,
        Some(("A1 by number", dir.accounts[A1].number.as_str())),
        Some(("B1 by UUID", dir.accounts[B1].id.as_str())),
    ];
    for key in &dir.integrator_keys {
        for person in &dir.people {
            let right = person.password.as_deref().unwrap_or(no_password);
            for username in [&person.email, &person.id] {
                for (password, label) in [(right, "right"), (WRONG_PASSWORD, "wrong")] {
                    let covered = key.active
                        && key.organization == Some(person.organization)
                        && label == "right";
                    if covered {
                        continue;
                    }
                    for sobo in few_sobo {
                        for path in few_paths {
                            add(username, password, label, key, sobo, path);
                        }
                    }
                }
            }
        }
        for sobo in few_sobo {
            for path in few_paths {
                add(UNKNOWN_USER, "any-password-1", "any", key, sobo, path);
            }
        }
    }
    cases
}

/// A hand-written case: label, request headers, expected outcome.
pub(crate) type OtherRow = (&'static str, Vec<(&'static str, String)>, Expect);

/// Refusals without usable credentials (SPEC §4, §5 and the dialect rule of §6.1).
pub(crate) fn other_cases(dir: &Directory) -> Vec<Case> {
    let a1 = &dir.accounts[A1].number;
    let key = &dir.integrator_keys[0].key;
    let unauthorized = || refuse(401, Some("UNAUTHORIZED"), "no or invalid bearer token");
    let partner = || {
        refuse(
            401,
            Some("PARTNER_AUTHENTICATION_FAILED"),
            "legacy header missing or unparseable",
        )
    };
    let restapi = format!("/restapi/v2.1/accounts/{a1}/envelopes");
    let rows: Vec<OtherRow> = vec![
        ("no credentials, no URI", vec![], unauthorized()),
        (
            "no credentials, AssureSign URI",
            vec![("X-Original-URI", "/api/v3.7/documents".into())],
            unauthorized(),
        ),
        (
            "no credentials, DocuSign URI",
            vec![("X-Original-URI", restapi.clone())],
            partner(),
        ),
        (
            "garbage bearer token",
            vec![("Authorization", "Bearer cst_garbage".into())],
            unauthorized(),
        ),
        (
            "garbage bearer token with a DocuSign URI",
            vec![
                ("Authorization", "bearer not-a-token".into()),
                ("X-Original-URI", restapi.clone()),
            ],
            unauthorized(),
        ),
        (
            "unparseable legacy header",
            vec![("X-DocuSign-Authentication", "garbage".into())],
            partner(),
        ),
        (
            "legacy header without an integrator key",
            vec![(
                "X-DocuSign-Authentication",
                json!({"Username": ADMIN_EMAIL, "Password": ADMIN_PASSWORD}).to_string(),
            )],
            partner(),
        ),
        (
            "legacy XML header with an empty integrator key",
            vec![(
                "X-DocuSign-Authentication",
                format!(
                    "<DocuSignCredentials><Username>{ADMIN_EMAIL}</Username><Password>{ADMIN_PASSWORD}</Password><IntegratorKey> </IntegratorKey></DocuSignCredentials>"
                ),
            )],
            partner(),
        ),
        (
            "legacy header with the integrator key only",
            vec![(
                "X-DocuSign-Authentication",
                json!({"IntegratorKey": key}).to_string(),
            )],
            // Username and password missing: the SPEC fixes only the 401.
            refuse(401, None, "legacy header without username or password"),
        ),
    ];
    rows.into_iter()
        .map(|(label, headers, expected)| Case {
            dialect: Dialect::Other,
            description: format!("{label}: {headers:?}"),
            expected,
            request: Some(headers),
            uri: Vec::new(),
            known: None,
        })
        .collect()
}

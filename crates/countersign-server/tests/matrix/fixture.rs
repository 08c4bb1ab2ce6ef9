//! Building the directory: the admin API for the first organization, `ops` (as the CLI uses
//! them) for the second, which that API cannot reach.

use super::*;
use countersign_test_support::{Call as _, Read as _};

// ---------------------------------------------------------------------------------------------
// Building the directory: the admin API for the first organization, `ops` for the second.

pub(crate) enum ScopeIds {
    User(String),
    Environment(String),
    Organization,
}

pub(crate) enum Admin<'a> {
    Http(&'a TestApp),
    Ops(&'a Ops, &'a Actor),
}

impl Admin<'_> {
    pub(crate) async fn environment(&self, name: &str, kind: EnvironmentKind) -> String {
        match self {
            Self::Http(app) => app.create_environment(name, kind.as_str()).await,
            Self::Ops(ops, actor) => ops
                .create_environment(actor, name, kind)
                .await
                .unwrap()
                .id
                .to_string(),
        }
    }

    pub(crate) async fn account(&self, environment: &str, name: &str) -> CreatedAccount {
        match self {
            Self::Http(app) => app.create_account(environment, name).await,
            Self::Ops(ops, actor) => {
                let account = ops
                    .create_account(actor, EnvironmentId::parse(environment).unwrap(), name)
                    .await
                    .unwrap();
                CreatedAccount {
                    id: account.id.to_string(),
                    number: account.number,
                }
            }
        }
    }

    pub(crate) async fn user(&self, email: &str, password: Option<&str>) -> String {
        match self {
            Self::Http(app) => app.create_user(email, password).await,
            Self::Ops(ops, actor) => ops
                .create_user(actor, email, email, password.map(Secret::new))
                .await
                .unwrap()
                .id
                .to_string(),
        }
    }

    pub(crate) async fn membership(
        &self,
        user: &str,
        account: &str,
        permissions: u8,
        is_default: bool,
    ) {
        match self {
            Self::Http(app) => {
                app.put_membership(user, account, &permission_names(permissions), is_default)
                    .await;
            }
            Self::Ops(ops, actor) => {
                ops.put_membership(
                    actor,
                    UserId::parse(user).unwrap(),
                    AccountId::parse(account).unwrap(),
                    Permissions::from_bits(i64::from(permissions)),
                    is_default,
                )
                .await
                .unwrap();
            }
        }
    }

    pub(crate) async fn disable(&self, user: &str) {
        match self {
            Self::Http(app) => {
                let response = app
                    .admin(Method::PATCH, &format!("/admin/v1/users/{user}"))
                    .json(&json!({"status": "disabled"}))
                    .call()
                    .await;
                assert_eq!(response.status(), StatusCode::OK, "disable {user}");
            }
            Self::Ops(ops, actor) => {
                ops.update_user(
                    actor,
                    UserId::parse(user).unwrap(),
                    None,
                    Some(UserStatus::Disabled),
                )
                .await
                .unwrap();
            }
        }
    }

    pub(crate) async fn integrator_key(&self, name: &str, key: Option<&str>) -> (String, String) {
        match self {
            Self::Http(app) => {
                let mut body = json!({"name": name});
                if let Some(key) = key {
                    body["key"] = json!(key);
                }
                let response = app.admin_post("/admin/v1/integrator-keys", body).await;
                assert_eq!(
                    response.status(),
                    StatusCode::CREATED,
                    "integrator key {name}"
                );
                let body: Value = response.value().await;
                (
                    body["id"].as_str().unwrap().to_owned(),
                    body["key"].as_str().unwrap().to_owned(),
                )
            }
            Self::Ops(ops, actor) => {
                let record = ops.create_integrator_key(actor, name, key).await.unwrap();
                (record.id.to_string(), record.key)
            }
        }
    }

    pub(crate) async fn revoke_integrator_key(&self, id: &str) {
        match self {
            Self::Http(app) => {
                let response = app
                    .admin(
                        Method::POST,
                        &format!("/admin/v1/integrator-keys/{id}/revoke"),
                    )
                    .call()
                    .await;
                assert_eq!(response.status(), StatusCode::OK, "revoke integrator key");
            }
            Self::Ops(ops, actor) => {
                ops.revoke_integrator_key(actor, IntegratorKeyId::parse(id).unwrap())
                    .await
                    .unwrap();
            }
        }
    }

    pub(crate) async fn api_user(
        &self,
        username: &str,
        scope: &ScopeIds,
        expires_at: OffsetDateTime,
    ) -> (String, String) {
        match self {
            Self::Http(app) => {
                let scope = match scope {
                    ScopeIds::User(id) => json!({"type": "user", "user_id": id}),
                    ScopeIds::Environment(id) => {
                        json!({"type": "environment", "environment_id": id})
                    }
                    ScopeIds::Organization => json!({"type": "organization"}),
                };
                let response = app
                    .admin_post(
                        "/admin/v1/api-users",
                        json!({"username": username, "scope": scope,
                               "expires_at": expires_at.format(&Rfc3339).unwrap()}),
                    )
                    .await;
                assert_eq!(
                    response.status(),
                    StatusCode::CREATED,
                    "api user {username}"
                );
                let body: Value = response.value().await;
                (
                    body["api_user"]["id"].as_str().unwrap().to_owned(),
                    body["key"].as_str().unwrap().to_owned(),
                )
            }
            Self::Ops(ops, actor) => {
                let scope = match scope {
                    ScopeIds::User(id) => Scope::User(UserId::parse(id).unwrap()),
                    ScopeIds::Environment(id) => {
                        Scope::Environment(EnvironmentId::parse(id).unwrap())
                    }
                    ScopeIds::Organization => Scope::Organization,
                };
                let issued = ops
                    .create_api_user(actor, username, scope, expires_at, None)
                    .await
                    .unwrap();
                (
                    issued.api_user.id.to_string(),
                    issued.key.expose().to_owned(),
                )
            }
        }
    }

    pub(crate) async fn revoke_api_user(&self, id: &str) {
        match self {
            Self::Http(app) => {
                let response = app
                    .admin(Method::POST, &format!("/admin/v1/api-users/{id}/revoke"))
                    .call()
                    .await;
                assert_eq!(response.status(), StatusCode::OK, "revoke api user");
            }
            Self::Ops(ops, actor) => {
                ops.revoke_api_user(actor, ApiUserId::parse(id).unwrap())
                    .await
                    .unwrap();
            }
        }
    }

    /// Rotates with no grace period; returns the new key.
    pub(crate) async fn rotate_api_user(&self, id: &str) -> String {
        match self {
            Self::Http(app) => {
                let response = app
                    .admin_post(
                        &format!("/admin/v1/api-users/{id}/rotate"),
                        json!({"grace_minutes": 0}),
                    )
                    .await;
                assert_eq!(response.status(), StatusCode::OK, "rotate api user");
                let body: Value = response.value().await;
                body["key"].as_str().unwrap().to_owned()
            }
            Self::Ops(ops, actor) => ops
                .rotate_api_user(actor, ApiUserId::parse(id).unwrap(), 0, None)
                .await
                .unwrap()
                .key
                .expose()
                .to_owned(),
        }
    }
}

pub(crate) async fn build_directory(app: &TestApp) -> Directory {
    let mut dir = Directory::default();
    // The second organization, created directly: the admin API is per organization.
    let org_b = OrganizationId(uuid::Uuid::now_v7());
    app.store
        .insert_organization(
            &Organization {
                id: org_b,
                name: "Second organization".into(),
                legacy_header_enabled: true,
            },
            app.now(),
        )
        .await
        .unwrap();
    dir.organizations = vec![app.organization_id.clone(), org_b.to_string()];
    let ops = app.server().state().ops();
    let actor_b = Actor {
        organization_id: org_b,
        user_id: None,
        name: "test".into(),
        source_ip: None,
    };
    let admins = [Admin::Http(app), Admin::Ops(ops, &actor_b)];

    // Environments: the bootstrap production environment, then the others.
    dir.environments.push(Environment {
        id: app.environment_id.clone(),
    });
    for (organization, name, kind) in [
        (ORG_A, "A sandbox", EnvironmentKind::Sandbox),
        (ORG_B, "B production", EnvironmentKind::Production),
        (ORG_B, "B sandbox", EnvironmentKind::Sandbox),
    ] {
        let id = admins[organization].environment(name, kind).await;
        dir.environments.push(Environment { id });
    }

    // Accounts: the bootstrap account A1, then the others.
    let a1_number = app.account_number(&app.account_id).await;
    dir.accounts.push(Account {
        id: app.account_id.clone(),
        number: a1_number,
        environment: A_PROD,
        label: "A1 (A prod)",
    });
    for (organization, environment, label) in [
        (ORG_A, A_PROD, "A2 (A prod)"),
        (ORG_A, A_SANDBOX, "A3 (A sandbox)"),
        (ORG_A, A_SANDBOX, "A4 (A sandbox)"),
        (ORG_B, B_PROD, "B1 (B prod)"),
        (ORG_B, B_PROD, "B2 (B prod)"),
        (ORG_B, B_SANDBOX, "B3 (B sandbox)"),
    ] {
        let CreatedAccount { id, number } = admins[organization]
            .account(&dir.environments[environment].id, label)
            .await;
        dir.accounts.push(Account {
            id,
            number,
            environment,
            label,
        });
    }

    // The bootstrap administrator, as the store has it.
    let admin_members = app
        .store
        .list_memberships(UserId::parse(&app.admin_user_id).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|m| {
            let account = dir
                .accounts
                .iter()
                .position(|a| a.id == m.account_id.to_string())
                .unwrap();
            member(
                account,
                u8::try_from(m.permissions.bits()).unwrap(),
                m.is_default,
            )
        })
        .collect();
    dir.people.push(Person {
        label: "bootstrap administrator".into(),
        id: app.admin_user_id.clone(),
        email: ADMIN_EMAIL.into(),
        organization: ORG_A,
        active: true,
        password: Some(ADMIN_PASSWORD.into()),
        members: admin_members,
    });

    for spec in person_specs() {
        let admin = &admins[spec.organization];
        let id = admin.user(&spec.email, spec.password.as_deref()).await;
        for m in &spec.members {
            admin
                .membership(
                    &id,
                    &dir.accounts[m.account].id,
                    m.permissions,
                    m.is_default,
                )
                .await;
        }
        if spec.disabled {
            admin.disable(&id).await;
        }
        dir.people.push(Person {
            label: spec.label,
            id,
            email: spec.email,
            organization: spec.organization,
            active: !spec.disabled,
            password: spec.password,
            members: spec.members,
        });
    }

    // Integrator keys: one active and one revoked per organization, and one nobody issued.
    for (organization, label, import) in [
        (
            ORG_A,
            "A active",
            Some("YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e"),
        ),
        (ORG_A, "A revoked", None),
        (ORG_B, "B active", None),
        (ORG_B, "B revoked", None),
    ] {
        let admin = &admins[organization];
        let (id, key) = admin.integrator_key(label, import).await;
        let active = label.ends_with("active");
        if !active {
            admin.revoke_integrator_key(&id).await;
        }
        dir.integrator_keys.push(IntegratorKeyModel {
            label,
            key,
            organization: Some(organization),
            active,
        });
    }
    dir.integrator_keys.push(IntegratorKeyModel {
        label: "unknown",
        key: "YDMN-00000000-0000-0000-0000-000000000000".into(),
        organization: None,
        active: false,
    });

    // API users.
    let now = app.now();
    let mut issued = Vec::new();
    for spec in api_user_specs() {
        let admin = &admins[spec.organization];
        let (scope_ids, scope) = match spec.scope {
            ScopeSpec::User(email) => {
                let person = dir.find(spec.organization, email, false).unwrap();
                (
                    ScopeIds::User(dir.people[person].id.clone()),
                    ScopeModel::User(person),
                )
            }
            ScopeSpec::Environment(environment) => (
                ScopeIds::Environment(dir.environments[environment].id.clone()),
                ScopeModel::Environment(environment),
            ),
            ScopeSpec::Organization => (ScopeIds::Organization, ScopeModel::Organization),
        };
        let expires_at = if spec.short_lived {
            now + time::Duration::minutes(1)
        } else {
            now + time::Duration::days(30)
        };
        let (id, key) = admin.api_user(spec.username, &scope_ids, expires_at).await;
        issued.push((spec, scope, id, key));
    }
    let mut keys_by_name = std::collections::HashMap::new();
    for (spec, scope, id, key) in issued {
        let admin = &admins[spec.organization];
        let identity = || ApiIdentity {
            organization: spec.organization,
            scope,
            username: spec.username.to_owned(),
        };
        keys_by_name.insert(spec.username, key.clone());
        if spec.revoked {
            admin.revoke_api_user(&id).await;
        }
        if spec.rotated {
            let new_key = admin.rotate_api_user(&id).await;
            dir.credentials.push(Credential {
                label: format!("{} (key rotated out, no grace)", spec.username),
                username: spec.sent.to_owned(),
                key,
                identity: None,
            });
            dir.credentials.push(Credential {
                label: format!("{} (new key)", spec.username),
                username: spec.sent.to_owned(),
                key: new_key,
                identity: Some(identity()),
            });
            continue;
        }
        let usable = !spec.revoked && !spec.short_lived;
        dir.credentials.push(Credential {
            label: format!(
                "{}{}",
                spec.username,
                if spec.revoked {
                    " (revoked)"
                } else if spec.short_lived {
                    " (expired)"
                } else {
                    ""
                }
            ),
            username: spec.sent.to_owned(),
            key,
            identity: usable.then(identity),
        });
    }
    let a_org_key = keys_by_name["a-org"].clone();
    let b_org_key = keys_by_name["b-org"].clone();
    dir.credentials.extend([
        Credential {
            label: "unknown API username".into(),
            username: "no-such-api-user".into(),
            key: a_org_key.clone(),
            identity: None,
        },
        Credential {
            label: "a-org with b-org's key".into(),
            username: "a-org".into(),
            key: b_org_key,
            identity: None,
        },
        Credential {
            label: "a-org with a malformed key".into(),
            username: "a-org".into(),
            key: "csk_notakey".into(),
            identity: None,
        },
        Credential {
            label: "a-org with a truncated key".into(),
            username: "a-org".into(),
            key: a_org_key[..a_org_key.len() - 1].to_owned(),
            identity: None,
        },
    ]);
    // Let the short-lived API users expire (well within the admin session's 12 hours).
    app.advance(time::Duration::minutes(2));
    dir
}

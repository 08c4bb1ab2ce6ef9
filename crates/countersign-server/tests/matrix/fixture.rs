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
    /// The second organization: `ops` on the server's runtime, acting as `Actor`.
    Ops(&'a TestApp, &'a Actor),
}

impl Admin<'_> {
    pub(crate) async fn environment(&self, name: &str, kind: EnvironmentKind) -> String {
        match self {
            Self::Http(app) => app.create_environment(name, kind.as_str()).await,
            Self::Ops(app, actor) => {
                let name = name.to_owned();
                app.with_ops(actor, move |ops, actor| async move {
                    let environment = ops.create_environment(&actor, &name, kind).await;
                    environment.unwrap().id.to_string()
                })
                .await
            }
        }
    }

    pub(crate) async fn account(&self, environment: &str, name: &str) -> CreatedAccount {
        match self {
            Self::Http(app) => app.create_account(environment, name).await,
            Self::Ops(app, actor) => {
                let (environment, name) =
                    (EnvironmentId::parse(environment).unwrap(), name.to_owned());
                app.with_ops(actor, move |ops, actor| async move {
                    let account = ops
                        .create_account(&actor, environment, &name)
                        .await
                        .unwrap();
                    CreatedAccount {
                        id: account.id.to_string(),
                        number: account.number,
                    }
                })
                .await
            }
        }
    }

    pub(crate) async fn user(&self, email: &str, password: Option<&str>) -> String {
        match self {
            Self::Http(app) => app.create_user(email, password).await,
            Self::Ops(app, actor) => {
                let (email, password) = (email.to_owned(), password.map(Secret::new));
                app.with_ops(actor, move |ops, actor| async move {
                    let user = ops.create_user(&actor, &email, &email, password).await;
                    user.unwrap().id.to_string()
                })
                .await
            }
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
            Self::Ops(app, actor) => {
                let (user, account) = (
                    UserId::parse(user).unwrap(),
                    AccountId::parse(account).unwrap(),
                );
                let permissions = Permissions::from_bits(i64::from(permissions));
                app.with_ops(actor, move |ops, actor| async move {
                    ops.put_membership(&actor, user, account, permissions, is_default)
                        .await
                        .unwrap();
                })
                .await;
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
            Self::Ops(app, actor) => {
                let user = UserId::parse(user).unwrap();
                app.with_ops(actor, move |ops, actor| async move {
                    ops.update_user(&actor, user, None, Some(UserStatus::Disabled))
                        .await
                        .unwrap();
                })
                .await;
            }
        }
    }

    pub(crate) async fn integrator_key(
        &self,
        name: &str,
        key: Option<&str>,
    ) -> CreatedIntegratorKey {
        match self {
            Self::Http(app) => app.create_integrator_key(name, key).await,
            Self::Ops(app, actor) => {
                let (name, key) = (name.to_owned(), key.map(str::to_owned));
                app.with_ops(actor, move |ops, actor| async move {
                    let record = ops
                        .create_integrator_key(&actor, &name, key.as_deref())
                        .await;
                    let record = record.unwrap();
                    CreatedIntegratorKey {
                        id: record.id.to_string(),
                        key: record.key,
                    }
                })
                .await
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
            Self::Ops(app, actor) => {
                let id = IntegratorKeyId::parse(id).unwrap();
                app.with_ops(actor, move |ops, actor| async move {
                    ops.revoke_integrator_key(&actor, id).await.unwrap();
                })
                .await;
            }
        }
    }

    pub(crate) async fn api_user(
        &self,
        username: &str,
        scope: &ScopeIds,
        expires_at: OffsetDateTime,
    ) -> CreatedApiUser {
        match self {
            Self::Http(app) => {
                let scope = match scope {
                    ScopeIds::User(id) => json!({"type": "user", "user_id": id}),
                    ScopeIds::Environment(id) => {
                        json!({"type": "environment", "environment_id": id})
                    }
                    ScopeIds::Organization => json!({"type": "organization"}),
                };
                app.create_api_user_until(username, scope, expires_at).await
            }
            Self::Ops(app, actor) => {
                let scope = match scope {
                    ScopeIds::User(id) => Scope::User(UserId::parse(id).unwrap()),
                    ScopeIds::Environment(id) => {
                        Scope::Environment(EnvironmentId::parse(id).unwrap())
                    }
                    ScopeIds::Organization => Scope::Organization,
                };
                let username = username.to_owned();
                app.with_ops(actor, move |ops, actor| async move {
                    let issued = ops
                        .create_api_user(&actor, &username, scope, expires_at, None)
                        .await
                        .unwrap();
                    CreatedApiUser {
                        id: issued.api_user.id.to_string(),
                        key: issued.key.expose().to_owned(),
                    }
                })
                .await
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
            Self::Ops(app, actor) => {
                let id = ApiUserId::parse(id).unwrap();
                app.with_ops(actor, move |ops, actor| async move {
                    ops.revoke_api_user(&actor, id).await.unwrap();
                })
                .await;
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
            Self::Ops(app, actor) => {
                let id = ApiUserId::parse(id).unwrap();
                app.with_ops(actor, move |ops, actor| async move {
                    let rotated = ops.rotate_api_user(&actor, id, 0, None).await.unwrap();
                    rotated.key.expose().to_owned()
                })
                .await
            }
        }
    }
}

pub(crate) async fn build_directory(app: &TestApp) -> Directory {
    let mut dir = Directory::default();
    // The second organization, created directly: the admin API is per organization.
    let actor_b = app.second_organization("Second organization").await;
    let org_b = actor_b.organization_id;
    dir.organizations = vec![app.organization_id.clone(), org_b.to_string()];
    let admins = [Admin::Http(app), Admin::Ops(app, &actor_b)];

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
        let CreatedIntegratorKey { id, key } = admin.integrator_key(label, import).await;
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
        let CreatedApiUser { id, key } =
            admin.api_user(spec.username, &scope_ids, expires_at).await;
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

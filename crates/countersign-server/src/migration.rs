//! Guided migration off the legacy header (SPEC §11): the plan (narrowest scope, users and
//! accounts acted on, dry run over the recorded requests) and the migration itself (an API user
//! with that scope plus a ready-to-paste snippet). Shared by the admin API, console and CLI.

use crate::ops::{Actor, IssuedKey, OpError, Ops};
use countersign_core::api_user::Scope;
use countersign_core::directory::Membership;
use countersign_core::ids::{AccountId, EnvironmentId, IntegratorKeyId, UserId};
use countersign_core::migration::{Coverage, RecordedUse, dry_run, narrowest_scope};
use std::collections::{BTreeMap, HashMap};
use time::OffsetDateTime;

/// A user acted as in the recorded usage.
#[derive(Clone, Debug)]
pub struct PlanUser {
    /// The user.
    pub id: UserId,
    /// Their email.
    pub email: String,
    /// Requests acting as them.
    pub requests: i64,
    /// The account they used most, if any (for `X-AS-UserContext`).
    pub main_account: Option<AccountId>,
}

/// An account used in the recorded usage.
#[derive(Clone, Debug)]
pub struct PlanAccount {
    /// The account.
    pub id: AccountId,
    /// Its number.
    pub number: String,
    /// Its environment.
    pub environment_id: EnvironmentId,
    /// Requests in it.
    pub requests: i64,
}

/// Where a migration leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationTarget {
    /// DocuSign's OAuth 2.0 JWT Grant (SPEC §12): the path DocuSign's own SDKs already take.
    JwtGrant,
    /// An API user and its session tokens (SPEC §11).
    ApiUser,
}

impl MigrationTarget {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::JwtGrant => "jwt_grant",
            Self::ApiUser => "api_user",
        }
    }
}

/// A migration plan.
#[derive(Clone, Debug)]
pub struct MigrationPlan {
    /// The recommended target: every recorded request is DocuSign-dialect (the legacy header),
    /// so the JWT Grant, which the integration's DocuSign SDK already supports.
    pub target: MigrationTarget,
    /// The narrowest covering scope.
    pub scope: Scope,
    /// Users acted as, most requests first.
    pub users: Vec<PlanUser>,
    /// Accounts used, most requests first.
    pub accounts: Vec<PlanAccount>,
    /// The dry run.
    pub coverage: Coverage,
}

/// A finished migration.
#[derive(Debug)]
pub struct Migrated {
    /// The new API user and its key (shown once).
    pub issued: IssuedKey,
    /// The plan it follows.
    pub plan: MigrationPlan,
    /// curl and Python example of the token exchange with the `X-AS-UserContext` values that
    /// replace each on-behalf-of user.
    pub snippet: String,
}

impl Ops {
    /// Computes the migration plan of an integrator key from the recorded usage.
    ///
    /// # Errors
    /// `NotFound` for an unknown key; `Conflict` (`no_legacy_usage`) when nothing is recorded.
    pub async fn migration_plan(
        &self,
        actor: &Actor,
        key: IntegratorKeyId,
    ) -> Result<MigrationPlan, OpError> {
        self.store.fetch(actor.organization_id, key).await?;
        let rows = self
            .store
            .list_legacy_usage(actor.organization_id, Some(key), None)
            .await?;
        if rows.iter().all(|r| r.requests == 0) {
            return Err(OpError::Conflict {
                code: "no_legacy_usage",
                detail: "no legacy-header usage is recorded for this integrator key".into(),
            });
        }
        let mut environments: HashMap<AccountId, (String, EnvironmentId)> = HashMap::new();
        let mut uses = Vec::new();
        for row in &rows {
            let acting = row.on_behalf_of_user_id.unwrap_or(row.user_id);
            let mut attributed = 0;
            for (account, requests) in &row.accounts {
                if !environments.contains_key(account)
                    && let Ok(found) = self.store.fetch(actor.organization_id, *account).await
                {
                    environments.insert(*account, (found.number, found.environment_id));
                }
                let Some((_, environment)) = environments.get(account) else {
                    continue;
                };
                attributed += requests;
                uses.push(RecordedUse {
                    user_id: acting,
                    account: Some((*account, *environment)),
                    requests: *requests,
                });
            }
            if row.requests > attributed {
                uses.push(RecordedUse {
                    user_id: acting,
                    account: None,
                    requests: row.requests - attributed,
                });
            }
        }
        let scope = narrowest_scope(&uses).ok_or_else(|| OpError::Conflict {
            code: "no_legacy_usage",
            detail: "no legacy-header usage is recorded for this integrator key".into(),
        })?;
        let mut facts: HashMap<UserId, (bool, Vec<Membership>, String)> = HashMap::new();
        for recorded in &uses {
            if facts.contains_key(&recorded.user_id) {
                continue;
            }
            if let Some(user) = self.store.find_user(recorded.user_id).await?
                && user.organization_id == actor.organization_id
            {
                let memberships = self.store.list_memberships(user.id).await?;
                facts.insert(user.id, (user.is_active(), memberships, user.email));
            }
        }
        let coverage = dry_run(&scope, &uses, |user| {
            facts
                .get(&user)
                .map(|(active, m, _)| (*active, m.as_slice()))
        });
        let mut by_user: BTreeMap<UserId, (i64, HashMap<AccountId, i64>)> = BTreeMap::new();
        let mut by_account: BTreeMap<AccountId, i64> = BTreeMap::new();
        for recorded in &uses {
            let entry = by_user.entry(recorded.user_id).or_default();
            entry.0 += recorded.requests;
            if let Some((account, _)) = recorded.account {
                *entry.1.entry(account).or_default() += recorded.requests;
                *by_account.entry(account).or_default() += recorded.requests;
            }
        }
        let mut users: Vec<PlanUser> = by_user
            .into_iter()
            .map(|(id, (requests, accounts))| PlanUser {
                id,
                email: facts.get(&id).map(|f| f.2.clone()).unwrap_or_default(),
                requests,
                main_account: accounts
                    .into_iter()
                    .max_by_key(|(a, n)| (*n, std::cmp::Reverse(*a)))
                    .map(|(a, _)| a),
            })
            .collect();
        users.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.email.cmp(&b.email)));
        let mut accounts: Vec<PlanAccount> = by_account
            .into_iter()
            .filter_map(|(id, requests)| {
                environments
                    .get(&id)
                    .map(|(number, environment_id)| PlanAccount {
                        id,
                        number: number.clone(),
                        environment_id: *environment_id,
                        requests,
                    })
            })
            .collect();
        accounts.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.id.cmp(&b.id)));
        Ok(MigrationPlan {
            target: MigrationTarget::JwtGrant,
            scope,
            users,
            accounts,
            coverage,
        })
    }

    /// Creates the API user a plan proposes and a snippet showing how to use it.
    ///
    /// # Errors
    /// As [`Ops::migration_plan`] and [`Ops::create_api_user`].
    pub async fn migrate_integrator_key(
        &self,
        actor: &Actor,
        key: IntegratorKeyId,
        username: &str,
        expires_at: OffsetDateTime,
        public_url: &str,
    ) -> Result<Migrated, OpError> {
        let plan = self.migration_plan(actor, key).await?;
        let integrator_key = self.store.fetch(actor.organization_id, key).await?;
        let description = format!(
            "Migrated from legacy integrator key {} ({})",
            integrator_key.name, integrator_key.key
        );
        let issued = self
            .create_api_user(actor, username, plan.scope, expires_at, Some(&description))
            .await?;
        let snippet = snippet(public_url, &issued, &plan);
        Ok(Migrated {
            issued,
            plan,
            snippet,
        })
    }
}

/// A finished migration to the JWT Grant.
#[derive(Debug)]
pub struct MigratedToJwt {
    /// The new RSA key.
    pub rsa_key: countersign_store::OAuthRsaKey,
    /// Its private key, PKCS#1 PEM; never stored, shown once.
    pub private_key_pem: zeroize::Zeroizing<String>,
    /// The users the administrator consent now covers: exactly those acted as.
    pub consented_user_ids: Vec<UserId>,
    /// The change in `docusign-esign` (Python) that replaces the header.
    pub snippet: String,
}

impl Ops {
    /// Moves an integrator key's legacy-header integration to the JWT Grant (SPEC §12): an
    /// administrator consent (`signature impersonation`) for exactly the users its recorded
    /// traffic acted as, replacing any earlier one, and a new RSA key pair.
    ///
    /// # Errors
    /// As [`Ops::migration_plan`]; `Conflict` (`too_many_keys`) when the key holds five RSA keys.
    pub async fn migrate_integrator_key_to_jwt(
        &self,
        actor: &Actor,
        key: IntegratorKeyId,
        public_url: &str,
        oauth_host: &str,
    ) -> Result<MigratedToJwt, OpError> {
        let plan = self.migration_plan(actor, key).await?;
        let integrator_key = self.store.fetch(actor.organization_id, key).await?;
        // Users acted as that still exist in the organization (the plan names others without
        // an email).
        let users: Vec<UserId> = plan
            .users
            .iter()
            .filter(|u| !u.email.is_empty())
            .map(|u| u.id)
            .collect();
        // Checked before anything is written: a key with no room for another RSA key is
        // refused with the consent untouched. Then the consent, so that a refusal of it never
        // leaves a stored key whose private half, shown only in this answer, is lost.
        self.rsa_key_room(actor, key).await?;
        self.put_admin_consent(
            actor,
            key,
            &["signature".to_owned(), "impersonation".to_owned()],
            countersign_core::oauth::ConsentUsers::Listed(users.clone()),
        )
        .await?;
        let (rsa_key, private_key_pem) = self
            .add_oauth_rsa_key(actor, key, crate::ops::NewRsaKey::Generate)
            .await?;
        let Some(private_key_pem) = private_key_pem else {
            return Err(OpError::Invalid {
                field: "generate",
                detail: "the key pair could not be generated".into(),
            });
        };
        let snippet = jwt_snippet(public_url, oauth_host, &integrator_key.key, &plan);
        Ok(MigratedToJwt {
            rsa_key,
            private_key_pem,
            consented_user_ids: users,
            snippet,
        })
    }
}

fn python_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn jwt_snippet(
    public_url: &str,
    oauth_host: &str,
    client_id: &str,
    plan: &MigrationPlan,
) -> String {
    let mut text = String::new();
    text.push_str("# Replace the X-DocuSign-Authentication header with the OAuth JWT Grant (docusign-esign).\n");
    text.push_str("# Before, every request carried a password:\n");
    text.push_str(
        "#   api_client.set_default_header(\"X-DocuSign-Authentication\", json.dumps({...}))\n",
    );
    text.push_str("# After, the integration signs a short JWT with its RSA private key and sends a Bearer token:\n");
    text.push_str("from docusign_esign import ApiClient\n\n");
    text.push_str(&format!(
        "OAUTH_HOST = {}  # was account.docusign.com / account-d.docusign.com\n",
        python_string(oauth_host)
    ));
    text.push_str(&format!("INTEGRATOR_KEY = {}\n", python_string(client_id)));
    text.push_str("PRIVATE_KEY = open(\"private.pem\", \"rb\").read()  # shown once: keep it in a secret store\n\n");
    text.push_str("api_client = ApiClient(oauth_host_name=OAUTH_HOST)\n");
    text.push_str(&format!(
        "api_client.host = {}\n\n",
        python_string(&format!("{}/restapi", public_url.trim_end_matches('/')))
    ));
    text.push_str("def act_as(user_id):\n");
    text.push_str("    token = api_client.request_jwt_user_token(\n");
    text.push_str(
        "        client_id=INTEGRATOR_KEY, user_id=user_id, oauth_host_name=OAUTH_HOST,\n",
    );
    text.push_str("        private_key_bytes=PRIVATE_KEY, expires_in=3600, scopes=[\"signature\", \"impersonation\"])\n");
    text.push_str(
        "    api_client.set_default_header(\"Authorization\", \"Bearer \" + token.access_token)\n",
    );
    text.push_str("    return token  # valid for token.expires_in seconds; request a new one before it ends\n\n");
    text.push_str("# Each user the header acted as (SendOnBehalfOf included) becomes one call; consent is granted:\n");
    for user in &plan.users {
        text.push_str(&format!(
            "act_as({})  # {}\n",
            python_string(&user.id.to_string()),
            user.email
        ));
    }
    text
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn snippet(public_url: &str, issued: &IssuedKey, plan: &MigrationPlan) -> String {
    let username = &issued.api_user.username;
    let key = issued.key.expose();
    let first = plan
        .users
        .first()
        .map_or("user@example.com", |u| u.email.as_str());
    let body = serde_json::json!({"request": {"apiUsername": username, "key": key, "contextUsername": first, "sessionLengthInMinutes": 60}});
    let contexts: Vec<String> = plan
        .users
        .iter()
        .map(|u| match u.main_account {
            Some(account) => format!("{}:{account}", u.email),
            None => u.email.clone(),
        })
        .collect();
    let mut text = String::new();
    text.push_str("# Replace the X-DocuSign-Authentication header with an API-user token.\n");
    text.push_str("# 1. Exchange the key for a session token acting as the user you used to send on behalf of:\n");
    text.push_str(&format!(
        "curl -s {}/api/v3.7/authentication/apiUser -H 'Content-Type: application/json' \\\n  -d {}\n",
        public_url,
        shell_quote(&body.to_string())
    ));
    text.push_str("# 2. Call the API with the token and the account context:\n");
    text.push_str(&format!(
        "curl -s {public_url}/v1/whoami -H \"Authorization: bearer $TOKEN\" -H {}\n",
        shell_quote(&format!(
            "X-AS-UserContext: {}",
            contexts.first().map_or(first, String::as_str)
        ))
    ));
    text.push_str("# X-AS-UserContext values that replace each on-behalf-of user:\n");
    for context in &contexts {
        text.push_str(&format!("#   X-AS-UserContext: {context}\n"));
    }
    text.push_str("\n# Python (requests):\n");
    text.push_str("import requests\n\n");
    text.push_str(&format!(
        "BASE = {}\n",
        serde_json::Value::String(public_url.to_owned())
    ));
    text.push_str(&format!(
        "API_USERNAME = {}\n",
        serde_json::Value::String(username.clone())
    ));
    text.push_str(&format!(
        "KEY = {}  # shown once: keep it in a secret store\n",
        serde_json::Value::String(key.to_owned())
    ));
    text.push_str("\ndef session_for(context_username):\n");
    text.push_str("    response = requests.post(f\"{BASE}/api/v3.7/authentication/apiUser\", json={\"request\": {\n");
    text.push_str("        \"apiUsername\": API_USERNAME, \"key\": KEY, \"contextUsername\": context_username}})\n");
    text.push_str("    response.raise_for_status()\n");
    text.push_str("    return response.json()[\"result\"][\"token\"]\n\n");
    for (user, context) in plan.users.iter().zip(&contexts) {
        text.push_str(&format!(
            "token = session_for({})\nrequests.get(f\"{{BASE}}/v1/whoami\", headers={{\"Authorization\": f\"bearer {{token}}\", \"X-AS-UserContext\": {}}})\n",
            serde_json::Value::String(user.email.clone()),
            serde_json::Value::String(context.clone())
        ));
    }
    text
}

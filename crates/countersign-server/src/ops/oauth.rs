//! Operations on integrator keys as OAuth clients (SPEC §12): redirect URIs and the implicit
//! grant, client secrets (shown once), RSA keys (uploaded, or generated with the private key
//! shown once), administrator consent, users' own consents and their withdrawal, and ending a
//! token family. Whatever changes what an access token may do goes through `Ops::commit`, so
//! every node's caches drop it at once.

use super::{Actor, OpError, Ops, invalid};
use crate::rsa_keys;
use crate::secrets::random_bytes;
use countersign_core::directory::{IntegratorKey, User};
use countersign_core::ids::{IntegratorKeyId, OAuthFamilyId, OAuthRsaKeyId, OAuthSecretId};
use countersign_core::key::digest_key_text;
use countersign_core::oauth::{
    self, AdminConsent, CLIENT_SECRET_PREFIX, ConsentUsers, MAX_CLIENT_SECRETS,
    MAX_REDIRECT_URI_LEN, MAX_REDIRECT_URIS, MAX_RSA_KEYS, Scopes,
};
use countersign_core::secret::Secret;
use countersign_store::{AddCredentialError, OAuthRsaKey, OAuthSecret};
use uuid::Uuid;
use zeroize::Zeroizing;

/// RSA key pairs generated at once, across the process.
static GENERATING: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(1));

fn too_many_keys() -> OpError {
    OpError::Conflict {
        code: "too_many_keys",
        detail: "an integrator key holds at most 5 RSA keys; delete one first".into(),
    }
}

/// How a new RSA key arrives.
#[derive(Debug)]
pub enum NewRsaKey<'a> {
    /// An uploaded public key (PEM).
    Upload(&'a str),
    /// Generate a pair; the private key is returned once.
    Generate,
}

/// Whether `uri` may be registered as a redirect URI: an absolute URI without a fragment or
/// user information, `https`, `http` on a loopback host (RFC 8252 §7.3), or a private-use
/// scheme with a dot (RFC 8252 §7.1); no whitespace or control characters.
pub fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    if uri.is_empty() || uri.len() > MAX_REDIRECT_URI_LEN {
        return Err("a redirect URI must have 1 to 2048 characters");
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a redirect URI may not contain spaces or control characters");
    }
    let parsed = url::Url::parse(uri).map_err(|_| "a redirect URI must be an absolute URI")?;
    if parsed.fragment().is_some() {
        return Err("a redirect URI may not have a fragment");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a redirect URI may not hold user information");
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => match parsed.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => Err("an http redirect URI must be on a loopback host; use https"),
        },
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => {
            Err("this scheme cannot be a redirect URI")
        }
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(
            "a redirect URI must be https, http on a loopback host, or a private-use scheme with a dot (com.example.app)",
        ),
    }
}

impl Ops {
    async fn integrator_key_of(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
    ) -> Result<IntegratorKey, OpError> {
        Ok(self.store.fetch(actor.organization_id, id).await?)
    }

    /// Sets a key's redirect URIs and whether it allows the implicit grant (`None`: unchanged).
    ///
    /// # Errors
    /// `Invalid` for a bad or repeated URI or too many; `NotFound`.
    pub async fn set_oauth_client(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
        redirect_uris: Option<&[String]>,
        allow_implicit: Option<bool>,
    ) -> Result<IntegratorKey, OpError> {
        if let Some(uris) = redirect_uris {
            if uris.len() > MAX_REDIRECT_URIS {
                return Err(invalid("redirect_uris", "at most 20 redirect URIs"));
            }
            for (index, uri) in uris.iter().enumerate() {
                check_redirect_uri(uri).map_err(|e| invalid("redirect_uris", e))?;
                if uris[..index].contains(uri) {
                    return Err(invalid("redirect_uris", "a redirect URI is listed twice"));
                }
            }
        }
        let key = self
            .store
            .update_integrator_key_oauth(actor.organization_id, id, redirect_uris, allow_implicit)
            .await?;
        self.commit(actor, "integrator_key.oauth_client", &id.to_string())
            .await;
        Ok(key)
    }

    /// Adds a client secret to a key; the secret, from the OS CSPRNG, is returned once and
    /// stored only as a digest. A key with a secret is a confidential client.
    ///
    /// # Errors
    /// `Conflict` (`too_many_secrets`) beyond five; `NotFound`.
    pub async fn add_oauth_secret(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
    ) -> Result<(OAuthSecret, Secret), OpError> {
        let secret = oauth::opaque(CLIENT_SECRET_PREFIX, &random_bytes::<32>());
        let record = OAuthSecret {
            id: OAuthSecretId(Uuid::now_v7()),
            integrator_key_id: id,
            created_at: self.now(),
            created_by: actor.name.clone(),
        };
        let digest = digest_key_text(secret.expose(), &self.pepper);
        match self
            .store
            .insert_oauth_secret(actor.organization_id, &record, &digest, MAX_CLIENT_SECRETS)
            .await
        {
            Ok(()) => {}
            Err(AddCredentialError::LimitReached) => {
                return Err(OpError::Conflict {
                    code: "too_many_secrets",
                    detail: "an integrator key holds at most 5 client secrets; delete one first"
                        .into(),
                });
            }
            Err(AddCredentialError::NotFound) => return Err(OpError::NotFound("integrator key")),
            Err(AddCredentialError::Duplicate) => {
                return Err(OpError::Conflict {
                    code: "conflict",
                    detail: "client secret already exists".into(),
                });
            }
            Err(AddCredentialError::Store(error)) => return Err(error.into()),
        }
        self.commit(actor, "integrator_key.secret_add", &id.to_string())
            .await;
        Ok((record, secret))
    }

    /// Deletes a client secret; requests presenting it are refused at once.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn delete_oauth_secret(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
        secret: OAuthSecretId,
    ) -> Result<(), OpError> {
        self.store
            .delete_oauth_secret(actor.organization_id, id, secret)
            .await?;
        self.commit(actor, "integrator_key.secret_delete", &id.to_string())
            .await;
        Ok(())
    }

    /// Whether the organization's integrator key has room for another RSA key.
    ///
    /// # Errors
    /// `NotFound` for a key of another organization; `Conflict` (`too_many_keys`) when full.
    pub(crate) async fn rsa_key_room(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
    ) -> Result<(), OpError> {
        self.integrator_key_of(actor, id).await?;
        if self.store.list_oauth_rsa_keys(id).await?.len() >= MAX_RSA_KEYS {
            return Err(too_many_keys());
        }
        Ok(())
    }

    /// Adds an RSA public key (uploaded, or generated with its private key returned once and
    /// never stored); at most five per key.
    ///
    /// # Errors
    /// `Invalid` for an unreadable, private or wrongly sized key; `Conflict` (`too_many_keys`,
    /// `key_exists`); `NotFound`.
    pub async fn add_oauth_rsa_key(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
        new: NewRsaKey<'_>,
    ) -> Result<(OAuthRsaKey, Option<Zeroizing<String>>), OpError> {
        let (public, private) = match new {
            NewRsaKey::Upload(pem) => (
                rsa_keys::parse_public_key(pem)
                    .map_err(|e| invalid("public_key_pem", e.to_string()))?,
                None,
            ),
            NewRsaKey::Generate => {
                // Refused before the work when the key is not the organization's or is full
                // (the insert below checks again under a lock).
                self.rsa_key_room(actor, id).await?;
                // Key generation is CPU-bound for a moment: off the executor, one at a time
                // (parallel requests cannot take every core).
                let _turn = GENERATING
                    .acquire()
                    .await
                    .map_err(|_| invalid("generate", "the key pair could not be generated"))?;
                let (public, private) = tokio::task::spawn_blocking(rsa_keys::generate)
                    .await
                    .map_err(|_| invalid("generate", "the key pair could not be generated"))?
                    .map_err(|e| invalid("generate", e.to_string()))?;
                (public, Some(private))
            }
        };
        let record = OAuthRsaKey {
            id: OAuthRsaKeyId(Uuid::now_v7()),
            integrator_key_id: id,
            public_key_pem: public.pem,
            fingerprint: public.fingerprint,
            created_at: self.now(),
            created_by: actor.name.clone(),
        };
        match self
            .store
            .insert_oauth_rsa_key(actor.organization_id, &record, MAX_RSA_KEYS)
            .await
        {
            Ok(()) => {}
            Err(AddCredentialError::LimitReached) => return Err(too_many_keys()),
            Err(AddCredentialError::Duplicate) => {
                return Err(OpError::Conflict {
                    code: "key_exists",
                    detail: "this RSA key is already registered for the integrator key".into(),
                });
            }
            Err(AddCredentialError::NotFound) => return Err(OpError::NotFound("integrator key")),
            Err(AddCredentialError::Store(error)) => return Err(error.into()),
        }
        self.audit(actor, "integrator_key.rsa_key_add", &id.to_string())
            .await;
        Ok((record, private))
    }

    /// Deletes an RSA key: assertions signed with it are refused from now on.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn delete_oauth_rsa_key(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
        key: OAuthRsaKeyId,
    ) -> Result<(), OpError> {
        self.store
            .delete_oauth_rsa_key(actor.organization_id, id, key)
            .await?;
        self.audit(actor, "integrator_key.rsa_key_delete", &id.to_string())
            .await;
        Ok(())
    }

    /// Sets the administrator consent of a key: scopes (at least `signature`) and the users it
    /// covers, each a user of the organization. Tokens of users it no longer covers (and who did
    /// not consent themselves) are refused from the next request.
    ///
    /// # Errors
    /// `Invalid` for unknown scopes or users; `NotFound`.
    pub async fn put_admin_consent(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
        scopes: &[String],
        users: ConsentUsers,
    ) -> Result<AdminConsent, OpError> {
        let scopes = Scopes::parse_names(scopes.iter().map(String::as_str)).map_err(|_| {
            invalid(
                "scopes",
                "scopes may be signature, impersonation, extended and openid",
            )
        })?;
        if scopes.is_empty() {
            return Err(invalid("scopes", "give at least one scope"));
        }
        self.integrator_key_of(actor, id).await?;
        if let ConsentUsers::Listed(users) = &users {
            if users.len() > 10_000 {
                return Err(invalid("user_ids", "at most 10000 users; use \"all\""));
            }
            for user in users {
                match self.store.find_user(*user).await? {
                    Some(found) if found.organization_id == actor.organization_id => {}
                    _ => {
                        return Err(invalid(
                            "user_ids",
                            format!("no such user in this organization: {user}"),
                        ));
                    }
                }
            }
        }
        let consent = AdminConsent { scopes, users };
        self.store
            .put_admin_consent(actor.organization_id, id, &consent, self.now(), &actor.name)
            .await?;
        self.commit(actor, "integrator_key.consent", &id.to_string())
            .await;
        Ok(consent)
    }

    /// Records a user's own consent to a key's scopes (the consent page of `/oauth/auth`).
    ///
    /// # Errors
    /// The store's error.
    pub async fn grant_user_consent(
        &self,
        user: &User,
        integrator_key: &IntegratorKey,
        scopes: Scopes,
        source_ip: Option<String>,
    ) -> Result<(), OpError> {
        self.store
            .upsert_user_consent(user.id, integrator_key.id, scopes, self.now())
            .await?;
        let actor = Actor {
            organization_id: user.organization_id,
            user_id: Some(user.id),
            name: user.email.clone(),
            source_ip,
        };
        self.commit(&actor, "oauth.consent", &integrator_key.id.to_string())
            .await;
        Ok(())
    }

    /// Withdraws the actor's consent for a key: their own consent is deleted and every token
    /// issued to them under the key stops working at once (an administrator's consent that
    /// covers them stays, for new tokens).
    ///
    /// # Errors
    /// `NotFound` when there is no consent to withdraw.
    pub async fn withdraw_consent(
        &self,
        actor: &Actor,
        id: IntegratorKeyId,
    ) -> Result<(), OpError> {
        // Only a signed-in user has consents to withdraw.
        let user = actor.user_id.ok_or(OpError::NotFound("consent"))?;
        self.integrator_key_of(actor, id).await?;
        if !self.store.withdraw_consent(user, id, self.now()).await? {
            return Err(OpError::NotFound("consent"));
        }
        self.commit(actor, "oauth.consent_withdraw", &id.to_string())
            .await;
        Ok(())
    }

    /// Ends a token family presented a second time (a code or refresh token reused): every
    /// access and refresh token of it is refused from the next request, on every node.
    ///
    /// # Errors
    /// The store's error.
    pub async fn end_oauth_family(
        &self,
        client: &IntegratorKey,
        family: OAuthFamilyId,
        what: &str,
    ) -> Result<(), OpError> {
        let ended = self.store.revoke_oauth_family(family, self.now()).await?;
        let actor = Actor {
            organization_id: client.organization_id,
            user_id: None,
            name: client.key.clone(),
            source_ip: None,
        };
        if ended {
            self.changed().await;
        }
        self.audit
            .record(countersign_store::AuditEvent {
                organization_id: Some(actor.organization_id),
                at: self.now(),
                actor: crate::audit::truncate(&actor.name),
                action: "oauth.family_revoke".to_owned(),
                subject: family.to_string(),
                source_ip: None,
                outcome: countersign_store::AuditOutcome::Denied,
                detail: Some(format!("{what} presented again")),
            })
            .await;
        Ok(())
    }
}

//! Request verification, read top to bottom: the request's credential (`request`) → the
//! directory facts behind it (`bearer`, `docusign`, cached in `facts`) → one decision
//! (`countersign_core::decide`, one pure function per dialect) → the identity handed on
//! (`identity`). `thread_cache` answers a repeated credential from the calling worker thread's
//! own copy of those facts, by calling the same decision.
//!
//! Nothing outside this module authenticates a request, and nothing here knows routes: the
//! handlers in `routes` ask a [`Verifier`] and turn its answer into a response.

pub mod bearer;
pub mod docusign;
pub mod identity;
pub mod oauth;
pub mod request;
pub mod thread_cache;

use crate::audit::{AuditSink, Rollups};
use crate::cache::{DirectoryCache, EpochCache};
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::dialect::Refusal;
use crate::dialect::assuresign::AssureSignError;
use crate::dialect::docusign::DocuSignError;
use crate::last_used::LastUsed;
use crate::legacy_usage::LegacyUsage;
use crate::metrics::Metrics;
use crate::passwords::Passwords;
use crate::secrets::Secrets;
use crate::throttle::{Throttle, ThrottleKey};
use axum::http::HeaderMap;
use axum::response::Response;
use countersign_core::access::AccountRequest;
use countersign_core::decide::{self, DocuSignDenial};
use countersign_store::{AuditOutcome, Store};
use identity::{AuthMethod, Verified, WireExtras};
use request::{Credential, Dialect, ReadOptions, VerifyRequest};
use std::net::SocketAddr;
use std::sync::Arc;
use time::OffsetDateTime;

/// Verifies requests; cheap to clone.
#[derive(Clone, Debug)]
pub struct Verifier(Arc<Parts>);

/// What verification needs, and nothing else.
#[derive(Debug)]
pub struct Parts {
    /// The database (directory facts on a cache miss, password hashes).
    pub store: Store,
    /// Directory caches, and the epoch every cached fact is stamped with.
    pub cache: Arc<DirectoryCache>,
    /// Verified sessions' facts by session identity (API user, key, acting user): many tokens
    /// share one entry, so memory follows distinct identities, not the token count.
    pub bearer_facts: EpochCache<bearer::BearerKey, bearer::BearerFacts>,
    /// Verified legacy headers' facts by a keyed digest of the header, never the header.
    pub legacy_facts: EpochCache<[u8; 32], docusign::LegacyFacts>,
    /// Verified OAuth access tokens' facts by identity (integrator key, user, family, kind).
    pub oauth_facts: EpochCache<oauth::OAuthKey, oauth::OAuthTokenFacts>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Pepper and signing keys.
    pub secrets: Secrets,
    /// Audit queue (failures, denials).
    pub audit: AuditSink,
    /// Per-minute roll-ups of on-behalf-of actions, written to the audit log.
    pub on_behalf_of: Rollups,
    /// API-user last-use recorder.
    pub last_used: LastUsed,
    /// Legacy-header usage counters.
    pub legacy_usage: LegacyUsage,
    /// Failure throttling.
    pub throttle: Arc<Throttle>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Password verification.
    pub passwords: Arc<Passwords>,
    /// Keyed digests of legacy headers.
    pub header_digester: docusign::HeaderDigester,
    /// Cached legacy-header password verifications, bound to credential versions.
    pub verified_passwords: docusign::VerifiedPasswords,
    /// Configuration.
    pub config: ServerConfig,
    /// How requests are read (trusted proxy headers).
    pub read_options: ReadOptions,
}

impl std::ops::Deref for Verifier {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl Verifier {
    /// A verifier of these parts.
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }

    /// The current time.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Reads a request's headers (once; see [`request`]).
    pub fn read<'h>(&self, headers: &'h HeaderMap, peer: Option<SocketAddr>) -> VerifyRequest<'h> {
        VerifyRequest::parse(headers, peer, &self.read_options)
    }

    /// Reads a forward-auth request whose original URI is in its own path (Envoy `ext_authz`).
    pub fn read_with_path<'h>(
        &self,
        headers: &'h HeaderMap,
        peer: Option<SocketAddr>,
        original_uri: Option<&[u8]>,
    ) -> VerifyRequest<'h> {
        VerifyRequest::parse_with_path(headers, peer, &self.read_options, original_uri)
    }

    /// Verifies a password against a PHC string off the executor, through the bounded pool.
    ///
    /// # Errors
    /// [`crate::passwords::Busy`] at once when the pool and its queue are full.
    pub async fn verify_password(
        &self,
        password: &str,
        phc: String,
    ) -> Result<bool, crate::passwords::Busy> {
        self.passwords.verify(password, phc).await
    }

    /// Queues an audit event.
    pub async fn audit_event(
        &self,
        organization_id: Option<countersign_core::ids::OrganizationId>,
        actor: &str,
        action: &str,
        subject: &str,
        source_ip: Option<&str>,
        outcome: AuditOutcome,
    ) {
        self.audit
            .event(
                self.now(),
                organization_id,
                actor,
                action,
                subject,
                source_ip,
                outcome,
            )
            .await;
    }

    /// Answers a repeated credential from the calling worker thread's cache, or `None` for
    /// [`Verifier::authenticate`].
    pub fn answer_from_thread_cache(
        &self,
        request: &VerifyRequest<'_>,
    ) -> Option<(Response, AuthMethod)> {
        thread_cache::answer(self, request)
    }

    /// Authenticates a request in its dialect and decides its effective account and acting
    /// user (SPEC §3, §5, §6).
    ///
    /// # Errors
    /// The refusal, in the request's dialect.
    pub async fn authenticate(&self, request: &VerifyRequest<'_>) -> Result<Verified, Refusal> {
        match request.credential {
            Credential::Bearer(token) if countersign_core::oauth::token::is_access_token(token) => {
                Ok(self.authenticate_oauth(token, request).await?)
            }
            Credential::Bearer(token) => Ok(self.authenticate_bearer(token, request).await?),
            Credential::DocuSign(raw) => Ok(self.authenticate_docusign(raw, request).await?),
            Credential::Missing(Dialect::AssureSign) => Err(AssureSignError::NoCredentials.into()),
            Credential::Unreadable(Dialect::AssureSign) => {
                self.bearer_failure(request).await;
                Err(AssureSignError::InvalidToken.into())
            }
            Credential::Missing(Dialect::DocuSign) | Credential::Unreadable(Dialect::DocuSign) => {
                Err(DocuSignError::NoIntegratorKey.into())
            }
        }
    }

    /// A bearer credential that failed: throttled by source address and audited.
    async fn bearer_failure(&self, request: &VerifyRequest<'_>) {
        let source_ip = request.source_ip();
        if let Some(ip) = &source_ip {
            self.throttle
                .record_failure(&[ThrottleKey::SourceIp(ip.clone())], self.now());
        }
        self.audit_event(
            None,
            "[bearer token]",
            "token.verify",
            "-",
            source_ip.as_deref(),
            AuditOutcome::Failure,
        )
        .await;
    }

    /// Verifies the bearer token of a request, without choosing an account (the AssureSign
    /// routes that act on the session itself).
    ///
    /// # Errors
    /// `NoCredentials` without a bearer token, `InvalidToken` for a bad one, the throttle.
    pub async fn bearer_session(
        &self,
        request: &VerifyRequest<'_>,
    ) -> Result<bearer::Session, AssureSignError> {
        let now = self.now();
        if self.throttle.any_blocked(now)
            && let Some(ip) = request.source_ip()
            && let Some(wait) = self.throttle.check(&[ThrottleKey::SourceIp(ip)], now)
        {
            return Err(AssureSignError::TooManyRequests(wait));
        }
        let token = match request.credential {
            Credential::Bearer(token) => token,
            Credential::Unreadable(Dialect::AssureSign) => {
                self.bearer_failure(request).await;
                return Err(AssureSignError::InvalidToken);
            }
            _ => return Err(AssureSignError::NoCredentials),
        };
        let mut ip_buffer = [0u8; 64];
        let ip = request.source_ip_text(&mut ip_buffer);
        match bearer::verify_token(self, token, ip).await {
            Ok(session) => {
                thread_cache::remember_bearer(self, token, &session.claims, &session.facts);
                Ok(session)
            }
            Err(error) => {
                if error == AssureSignError::InvalidToken {
                    self.bearer_failure(request).await;
                }
                Err(error)
            }
        }
    }

    async fn authenticate_bearer(
        &self,
        _token: &str,
        request: &VerifyRequest<'_>,
    ) -> Result<Verified, AssureSignError> {
        let user_context = request
            .user_context
            .context()
            .map_err(|_| AssureSignError::UnreadableUserContext)?;
        let session = self.bearer_session(request).await?;
        let account_request = AccountRequest {
            user_context,
            path: &request.path,
        };
        let decided = decide::bearer(
            session.scope(),
            &session.user().email,
            session.memberships(),
            &account_request,
        );
        let membership = match decided {
            Ok(membership) => membership,
            Err(error) => {
                self.audit_event(
                    Some(session.user().organization_id),
                    session.api_username(),
                    "token.verify",
                    &session.user().id.to_string(),
                    request.source_ip().as_deref(),
                    AuditOutcome::Denied,
                )
                .await;
                return Err(error.into());
            }
        };
        let mut verified = Verified::new(
            session.facts.identity.clone(),
            membership,
            Some(session.claims.api_user_id),
            OffsetDateTime::from_unix_timestamp(session.claims.expires_at).ok(),
            WireExtras::default(),
        )
        .ok_or(AssureSignError::Internal)?;
        verified.credential_expires_at = Some(session.facts.api_user.api_user.expires_at);
        Ok(verified)
    }

    /// Verifies an OAuth access token, without choosing an account (`/oauth/userinfo`, and
    /// the first half of [`Verifier::authenticate`]): throttled by source address like a
    /// session token, failures audited.
    ///
    /// # Errors
    /// `InvalidToken` for a bad token, the throttle, `Internal` on store failure.
    pub async fn oauth_session(
        &self,
        token: &str,
        request: &VerifyRequest<'_>,
    ) -> Result<oauth::OAuthSession, DocuSignError> {
        let now = self.now();
        if self.throttle.any_blocked(now)
            && let Some(ip) = request.source_ip()
            && let Some(wait) = self.throttle.check(&[ThrottleKey::SourceIp(ip)], now)
        {
            return Err(DocuSignError::TooManyRequests(wait));
        }
        match oauth::verify_access_token(self, token).await {
            Ok(session) => {
                thread_cache::remember_oauth(self, token, &session.claims, &session.facts);
                Ok(session)
            }
            Err(error) => {
                if error == DocuSignError::InvalidToken {
                    self.bearer_failure(request).await;
                }
                Err(error)
            }
        }
    }

    async fn authenticate_oauth(
        &self,
        token: &str,
        request: &VerifyRequest<'_>,
    ) -> Result<Verified, DocuSignError> {
        let session = self.oauth_session(token, request).await?;
        let facts = &session.facts;
        let expires_at = OffsetDateTime::from_unix_timestamp(session.claims.expires_at).ok();
        let decided = match &facts.facts.user {
            Some(user) => {
                decide::oauth_user(&user.email, &facts.facts.memberships, &request.path).map(Some)
            }
            None => decide::oauth_application(&request.path).map(|()| None),
        };
        match decided {
            Ok(Some(membership)) => Verified::new(
                facts.identity.clone(),
                membership,
                None,
                expires_at,
                WireExtras::default(),
            )
            .ok_or(DocuSignError::Internal),
            Ok(None) => Ok(Verified::without_account(
                facts.identity.clone(),
                expires_at,
            )),
            Err(error) => {
                self.audit_event(
                    Some(facts.identity.organization_id),
                    &facts.identity.actor,
                    "oauth.verify",
                    &facts
                        .identity
                        .user_id
                        .map_or_else(|| "-".to_owned(), |id| id.to_string()),
                    request.source_ip().as_deref(),
                    AuditOutcome::Denied,
                )
                .await;
                Err(DocuSignDenial::Account(error).into())
            }
        }
    }

    /// Authenticates a legacy header, without choosing an account (`login_information`).
    ///
    /// # Errors
    /// The DocuSign-dialect refusal of SPEC §5.
    pub async fn docusign_user(
        &self,
        request: &VerifyRequest<'_>,
    ) -> Result<Arc<docusign::LegacyFacts>, DocuSignError> {
        let Credential::DocuSign(raw) = request.credential else {
            return Err(DocuSignError::NoIntegratorKey);
        };
        let facts =
            docusign::authenticate_header(self, raw, request.source_ip().as_deref()).await?;
        thread_cache::remember_legacy(self, &facts);
        Ok(facts)
    }

    async fn authenticate_docusign(
        &self,
        _raw: &[u8],
        request: &VerifyRequest<'_>,
    ) -> Result<Verified, DocuSignError> {
        let facts = self.docusign_user(request).await?;
        let decided = decide::docusign(
            &facts.user.email,
            &facts.memberships,
            &request.path,
            facts.on_behalf_of(),
        );
        let grant = match decided {
            Ok(grant) => grant,
            Err(DocuSignDenial::OnBehalfOf) => {
                let name = facts
                    .on_behalf_of
                    .as_ref()
                    .map_or("-", |target| target.name.as_str());
                self.audit_event(
                    Some(facts.user.organization_id),
                    &facts.user.email,
                    "legacy.sobo",
                    name,
                    request.source_ip().as_deref(),
                    AuditOutcome::Denied,
                )
                .await;
                return Err(DocuSignError::LacksPermissions);
            }
            Err(denial) => return Err(denial.into()),
        };
        let (identity, membership) =
            docusign::acting(&facts, &grant).ok_or(DocuSignError::Internal)?;
        let mut ip_buffer = [0u8; 64];
        docusign::granted(
            self,
            &facts,
            &grant,
            request.source_ip_text(&mut ip_buffer),
            request.user_agent,
            self.now(),
        );
        Verified::new(
            identity.clone(),
            membership,
            None,
            None,
            facts.extras.clone(),
        )
        .ok_or(DocuSignError::Internal)
    }
}

/// The client address of a verified request, for the roll-ups.
pub(crate) fn source_addr(source_ip: Option<&str>) -> Option<std::net::IpAddr> {
    source_ip.and_then(|ip| ip.parse().ok())
}

//! DocuSign OAuth 2.0 (SPEC §12): the scopes, the kinds of access token, consents, the opaque
//! credentials (authorization codes, refresh tokens, client secrets), and SPEC §3 for an OAuth
//! access token in the same two halves as a session token's: what only a directory change can
//! alter ([`directory_admits`]) and what is checked against the token on every request
//! ([`still_valid`]). The server, its fast path and `countersign-verify` all decide with these.

pub mod assertion;
pub mod pkce;
pub mod token;

use crate::directory::{IntegratorKey, User};
use crate::ids::UserId;
use crate::key::encode_base62;
use crate::secret::Secret;
use token::AccessClaims;

/// Lifetime of a JWT Grant access token, in seconds (`expires_in`).
pub const JWT_TOKEN_SECONDS: i64 = 3_600;
/// Lifetime of an Authorization Code Grant access token, in seconds.
pub const CODE_TOKEN_SECONDS: i64 = 28_800;
/// Lifetime of an implicit-grant access token, in seconds.
pub const IMPLICIT_TOKEN_SECONDS: i64 = 3_600;
/// Lifetime of an authorization code, in seconds.
pub const CODE_SECONDS: i64 = 300;
/// Lifetime of a refresh token, in seconds (30 days).
pub const REFRESH_TOKEN_SECONDS: i64 = 30 * 24 * 3_600;
/// RSA public keys an integrator key may hold at once.
pub const MAX_RSA_KEYS: usize = 5;
/// Client secrets an integrator key may hold at once.
pub const MAX_CLIENT_SECRETS: usize = 5;
/// Redirect URIs an integrator key may register.
pub const MAX_REDIRECT_URIS: usize = 20;
/// Longest redirect URI accepted.
pub const MAX_REDIRECT_URI_LEN: usize = 2_048;
/// Largest JWT assertion read, in bytes; a larger one is refused unread.
pub const MAX_ASSERTION_LEN: usize = 8 * 1_024;

/// The prefix of authorization codes.
pub const CODE_PREFIX: &str = "csc_";
/// The prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "csr_";
/// The prefix of OAuth client secrets.
pub const CLIENT_SECRET_PREFIX: &str = "csos_";
/// Base62 characters of an opaque credential's random part (62^43 > 2^256).
const OPAQUE_BODY: usize = 43;

/// A new opaque credential (`prefix` + 43 base62 characters) from 256 bits the caller drew
/// from the OS CSPRNG.
pub fn opaque(prefix: &str, random: &[u8; 32]) -> Secret {
    Secret::new(format!("{prefix}{}", encode_base62(random, OPAQUE_BODY)))
}

/// Whether `text` has the shape of an opaque credential with `prefix` (checked before any
/// digest or lookup, so garbage costs nothing).
pub fn is_opaque(prefix: &str, text: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|body| {
        body.len() == OPAQUE_BODY && body.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// A set of OAuth scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

/// A scope name this server does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope")]
pub struct UnknownScope;

impl Scopes {
    /// `signature`: the eSignature REST API.
    pub const SIGNATURE: Self = Self(1);
    /// `impersonation`: acting for a user without them present (JWT Grant).
    pub const IMPERSONATION: Self = Self(2);
    /// `extended`: refresh tokens that extend their lifetime.
    pub const EXTENDED: Self = Self(4);
    /// `openid`: OpenID Connect sign-in.
    pub const OPENID: Self = Self(8);
    /// Every scope with its wire name.
    pub const ALL: [(Self, &'static str); 4] = [
        (Self::SIGNATURE, "signature"),
        (Self::IMPERSONATION, "impersonation"),
        (Self::EXTENDED, "extended"),
        (Self::OPENID, "openid"),
    ];

    /// No scope.
    pub const fn none() -> Self {
        Self(0)
    }

    /// Parses a space-separated scope list (RFC 6749 §3.3); empty items are skipped.
    ///
    /// # Errors
    /// [`UnknownScope`] for a name that is not one of [`Scopes::ALL`].
    pub fn parse(text: &str) -> Result<Self, UnknownScope> {
        Self::parse_names(text.split(' ').filter(|name| !name.is_empty()))
    }

    /// Parses scope names.
    ///
    /// # Errors
    /// [`UnknownScope`] for a name that is not one of [`Scopes::ALL`].
    pub fn parse_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownScope> {
        let mut scopes = Self::none();
        for name in names {
            let (scope, _) = Self::ALL
                .iter()
                .find(|(_, known)| *known == name)
                .ok_or(UnknownScope)?;
            scopes = scopes.with(*scope);
        }
        Ok(scopes)
    }

    /// The scopes stored as bits (unknown bits are dropped).
    pub fn from_bits(bits: i64) -> Self {
        Self(u8::try_from(bits & 0x0f).unwrap_or(0))
    }

    /// The bits to store.
    pub fn bits(&self) -> i64 {
        i64::from(self.0)
    }

    /// The bits as one byte (token payloads).
    pub fn byte(&self) -> u8 {
        self.0
    }

    /// Whether every scope of `other` is in this set.
    pub fn contains(&self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// This set with `other` added.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The scope names, in [`Scopes::ALL`] order.
    pub fn names(&self) -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|(scope, _)| self.contains(*scope))
            .map(|(_, name)| *name)
            .collect()
    }

    /// The space-separated scope list.
    pub fn text(&self) -> String {
        self.names().join(" ")
    }
}

/// How an access token was obtained; decides `X-Countersign-Auth-Method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// JWT Grant acting for a user (`oauth_jwt`).
    Jwt,
    /// The user signed in and consented: Authorization Code Grant, its refreshes, or the
    /// implicit grant (`oauth_code`).
    Code,
    /// JWT Grant without a user: the integration itself (`oauth_application`).
    Application,
}

impl AccessKind {
    /// The payload byte.
    pub fn byte(&self) -> u8 {
        match self {
            Self::Jwt => 1,
            Self::Code => 2,
            Self::Application => 3,
        }
    }

    /// The kind of a payload byte.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Jwt),
            2 => Some(Self::Code),
            3 => Some(Self::Application),
            _ => None,
        }
    }
}

/// Whom an administrator's consent covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsentUsers {
    /// Every user of the organization.
    All,
    /// The users listed.
    Listed(Vec<UserId>),
}

/// An administrator's consent for an integrator key, on behalf of the organization's users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConsent {
    /// The scopes consented to.
    pub scopes: Scopes,
    /// Whom it covers.
    pub users: ConsentUsers,
}

impl AdminConsent {
    /// Whether the consent covers `user`.
    pub fn covers(&self, user: UserId) -> bool {
        match &self.users {
            ConsentUsers::All => true,
            ConsentUsers::Listed(users) => users.contains(&user),
        }
    }
}

/// The scopes consented to for `user` now: their own consent's, and an administrator's consent
/// that covers them.
pub fn consented_scopes(
    user_consent: Option<Scopes>,
    admin_consent: Option<&AdminConsent>,
    user: UserId,
) -> Scopes {
    let own = user_consent.unwrap_or_default();
    match admin_consent {
        Some(admin) if admin.covers(user) => own.with(admin.scopes),
        _ => own,
    }
}

/// What the directory says about an access token's integrator key and user, at load time.
#[derive(Clone, Copy, Debug)]
pub struct GrantView<'a> {
    /// The integrator key that issued the token.
    pub integrator_key: &'a IntegratorKey,
    /// The user the token acts for (`None`: an application token).
    pub user: Option<&'a User>,
    /// The scopes consented to for that user now.
    pub consented: Scopes,
    /// Tokens issued at or before this Unix second are refused (a withdrawn consent).
    pub not_before: Option<i64>,
}

/// The directory half of SPEC §3 for an OAuth access token: the integrator key is active and,
/// for a user token, the user is active and of the key's organization. A revoked token family
/// is refused where the facts are loaded.
pub fn directory_admits(integrator_key: &IntegratorKey, user: Option<&User>) -> bool {
    integrator_key.is_active()
        && user.is_none_or(|user| {
            user.is_active() && user.organization_id == integrator_key.organization_id
        })
}

/// The per-request half: the token matches its facts (same key and user), and a user token's
/// scopes are still consented to and it was issued after any withdrawal of consent. Expiry is
/// checked by [`token::verify`].
pub fn still_valid(view: &GrantView<'_>, claims: &AccessClaims) -> bool {
    if claims.integrator_key_id != view.integrator_key.id
        || claims.user_id != view.user.map(|user| user.id)
        || !directory_admits(view.integrator_key, view.user)
    {
        return false;
    }
    match claims.kind {
        AccessKind::Application => true,
        AccessKind::Jwt | AccessKind::Code => {
            view.consented.contains(claims.scopes)
                && !claims.scopes.is_empty()
                && view
                    .not_before
                    .is_none_or(|cutoff| claims.issued_at > cutoff)
        }
    }
}

#[cfg(test)]
mod tests;

//! Typed identifiers: every id is a newtype over a UUID, built by `parse`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Parses the textual (hyphenated, any case) form of the id.
            ///
            /// # Errors
            /// Returns `None` when the text is not a UUID.
            pub fn parse(text: &str) -> Option<Self> {
                Uuid::try_parse(text.trim()).ok().map(Self)
            }

            /// Returns the underlying UUID.
            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
    )*};
}

id_type!(
    /// Identifies an organization (tenant).
    OrganizationId,
    /// Identifies an environment of an organization.
    EnvironmentId,
    /// Identifies an account: the AssureSign account context identifier and DocuSign `accountIdGuid`.
    AccountId,
    /// Identifies a user (DocuSign `userId`).
    UserId,
    /// Identifies an API user.
    ApiUserId,
    /// Identifies one key of an API user (a rotation creates a new one).
    ApiKeyId,
    /// Identifies an integrator key record.
    IntegratorKeyId,
    /// Identifies an issued session.
    SessionId,
    /// Identifies a registered introspection client (a resource server).
    IntrospectionClientId,
    /// Identifies a webhook endpoint.
    WebhookId,
    /// Identifies one delivery attempt of a webhook event.
    DeliveryId,
    /// Identifies an OAuth client secret of an integrator key.
    OAuthSecretId,
    /// Identifies an RSA public key of an integrator key (JWT Grant).
    OAuthRsaKeyId,
    /// Identifies the family of OAuth tokens descending from one authorization code.
    OAuthFamilyId,
    /// Identifies one issued OAuth access token.
    OAuthTokenId,
);

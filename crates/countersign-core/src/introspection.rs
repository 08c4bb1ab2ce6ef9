//! Registered introspection clients (SPEC §6.3): the resource servers that may ask
//! `POST /v1/introspect` about a token, their credentials, and how a request presents them
//! (RFC 6749 §2.3.1: `client_secret_basic` or `client_secret_post`).
//!
//! A client has a public `client_id` (`csic_` + 22 base62 characters, 128 random bits) and a
//! secret (`csis_` + 43 base62 characters, 256 random bits) that is shown once and stored only
//! as an HMAC-SHA256 digest under the server pepper, like an API user's key.
//!
//! # Security
//! [`secret_matches`] costs the same whether or not the client exists, and compares digests in
//! constant time, so an unknown client, a wrong secret and a deleted client look alike.

use crate::form::decode as form_decode;
use crate::ids::{IntrospectionClientId, OrganizationId};
use crate::key::{digest_key_text, encode_base62};
use crate::secret::Secret;
use base64::Engine;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// The prefix of every client id.
pub const CLIENT_ID_PREFIX: &str = "csic_";
/// The prefix of every client secret.
pub const CLIENT_SECRET_PREFIX: &str = "csis_";
/// Base62 characters of a client id's random part (62^22 > 2^128).
const CLIENT_ID_BODY: usize = 22;
/// Base62 characters of a client secret's random part (62^43 > 2^256).
const CLIENT_SECRET_BODY: usize = 43;
/// The longest credential text read from a request; anything longer is refused unread.
const MAX_CREDENTIAL_LEN: usize = 256;

/// A registered introspection client (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntrospectionClient {
    /// Internal id (admin API paths).
    pub id: IntrospectionClientId,
    /// The organization whose tokens it may introspect.
    pub organization_id: OrganizationId,
    /// The public client identifier it authenticates with.
    pub client_id: String,
    /// A name for people.
    pub name: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// Who registered it.
    pub created_by: String,
}

/// A new client identifier from 128 bits the caller drew from the OS CSPRNG.
pub fn new_client_id(random: &[u8; 16]) -> String {
    format!(
        "{CLIENT_ID_PREFIX}{}",
        encode_base62(random, CLIENT_ID_BODY)
    )
}

/// A client secret; redacts itself when formatted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSecret(Secret);

impl ClientSecret {
    /// A new secret from 256 bits the caller drew from the OS CSPRNG.
    pub fn from_random(random: &[u8; 32]) -> Self {
        Self(Secret::new(format!(
            "{CLIENT_SECRET_PREFIX}{}",
            encode_base62(random, CLIENT_SECRET_BODY)
        )))
    }

    /// The secret text; show it to the administrator exactly once.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The digest stored in place of the secret: HMAC-SHA256 under the server pepper, hex.
    pub fn digest(&self, pepper: &[u8]) -> String {
        digest_key_text(self.0.expose(), pepper)
    }
}

/// Whether a presented secret matches the stored digest of a client (`None`: no such client).
///
/// # Security
/// The presented secret is digested and compared in constant time in every case, against a
/// fixed dummy digest when there is no client, so the answer takes the same work either way.
pub fn secret_matches(presented: &Secret, stored_digest: Option<&str>, pepper: &[u8]) -> bool {
    let digest = digest_key_text(presented.expose(), pepper);
    let dummy = "0".repeat(digest.len());
    let (expected, is_known) = match stored_digest {
        Some(stored) => (stored, true),
        None => (dummy.as_str(), false),
    };
    let equal: bool = digest.as_bytes().ct_eq(expected.as_bytes()).into();
    equal && is_known
}

/// Client credentials as a request presented them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The client identifier, as sent.
    pub client_id: String,
    /// The client secret, as sent.
    pub secret: Secret,
}

/// Why presented client credentials cannot even be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientCredentialsError {
    /// `Authorization: Basic` whose value is not base64 of `id:secret` in UTF-8, or whose parts
    /// are not valid form-urlencoded text, or are empty or too long.
    #[error("malformed client credentials")]
    Malformed,
}

/// Reads `Authorization: Basic …` as RFC 6749 §2.3.1 defines it for clients: base64 of
/// `urlencode(client_id) ":" urlencode(client_secret)`.
///
/// Returns `Ok(None)` when the header uses another scheme (a bearer token, say).
///
/// # Errors
/// [`ClientCredentialsError::Malformed`] for a Basic value that cannot be read.
pub fn basic_credentials(
    authorization: &str,
) -> Result<Option<ClientCredentials>, ClientCredentialsError> {
    let value = authorization.trim();
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let encoded = rest.trim();
    // Each part may triple when form-urlencoded, then grows by a third in base64.
    if encoded.is_empty() || encoded.len() > 16 * MAX_CREDENTIAL_LEN {
        return Err(ClientCredentialsError::Malformed);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| ClientCredentialsError::Malformed)?;
    let text = String::from_utf8(decoded).map_err(|_| ClientCredentialsError::Malformed)?;
    let text = Secret::new(text);
    let (id, secret) = text
        .expose()
        .split_once(':')
        .ok_or(ClientCredentialsError::Malformed)?;
    let client_id = form_decode(id).ok_or(ClientCredentialsError::Malformed)?;
    let secret = Secret::new(form_decode(secret).ok_or(ClientCredentialsError::Malformed)?);
    credentials(client_id, secret).map(Some)
}

/// Checks `client_secret_post` form fields (already decoded by the form parser).
///
/// # Errors
/// [`ClientCredentialsError::Malformed`] when either is empty or too long.
pub fn posted_credentials(
    client_id: &str,
    secret: &str,
) -> Result<ClientCredentials, ClientCredentialsError> {
    credentials(client_id.to_owned(), Secret::new(secret))
}

fn credentials(
    client_id: String,
    secret: Secret,
) -> Result<ClientCredentials, ClientCredentialsError> {
    let sizes = [client_id.len(), secret.expose().len()];
    if sizes.iter().any(|&n| n == 0 || n > MAX_CREDENTIAL_LEN) {
        return Err(ClientCredentialsError::Malformed);
    }
    Ok(ClientCredentials { client_id, secret })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn basic(raw: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn generated_credentials_have_the_documented_shape() {
        let id = new_client_id(&[7; 16]);
        assert!(id.starts_with("csic_"));
        assert_eq!(id.len(), 5 + 22);
        let secret = ClientSecret::from_random(&[9; 32]);
        assert!(secret.expose().starts_with("csis_"));
        assert_eq!(secret.expose().len(), 5 + 43);
        assert!(
            secret.expose()[5..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        );
        assert_ne!(
            ClientSecret::from_random(&[1; 32]),
            ClientSecret::from_random(&[2; 32])
        );
    }

    #[test]
    fn debug_of_a_secret_redacts_it() {
        let secret = ClientSecret::from_random(&[9; 32]);
        assert!(!format!("{secret:?}").contains(&secret.expose()[5..]));
        let credentials = basic_credentials(&basic("csic_a:hunter2")).expect("readable");
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }

    #[test]
    fn only_the_right_secret_matches_its_digest() {
        let pepper = b"pepper";
        let secret = ClientSecret::from_random(&[3; 32]);
        let digest = secret.digest(pepper);
        let presented = Secret::new(secret.expose());
        assert!(secret_matches(&presented, Some(&digest), pepper));
        assert!(!secret_matches(&presented, Some(&digest), b"other pepper"));
        assert!(!secret_matches(
            &Secret::new("csis_wrong"),
            Some(&digest),
            pepper
        ));
        assert!(!secret_matches(&presented, None, pepper));
        // The dummy digest of an unknown client matches nothing, not even zeros.
        assert!(!secret_matches(&Secret::new(""), None, pepper));
    }

    #[test]
    fn reads_client_secret_basic_with_form_encoded_parts() {
        assert_eq!(
            basic_credentials(&basic("csic_abc:csis_def")),
            Ok(Some(ClientCredentials {
                client_id: "csic_abc".into(),
                secret: Secret::new("csis_def"),
            }))
        );
        // RFC 6749 §2.3.1: both parts are form-urlencoded before base64, so `:` and `%` in
        // them arrive escaped, and `+` means a space.
        assert_eq!(
            basic_credentials(&basic("my%3Aclient:s%25e+c%2Bret")),
            Ok(Some(ClientCredentials {
                client_id: "my:client".into(),
                secret: Secret::new("s%e c+ret"),
            }))
        );
        // The scheme is case-insensitive; the secret may contain an unescaped `:`.
        assert_eq!(
            basic_credentials(&basic("id:a:b").replace("Basic", "bAsIc"))
                .map(|c| c.map(|c| c.secret)),
            Ok(Some(Secret::new("a:b")))
        );
    }

    #[test]
    fn another_scheme_is_not_basic_credentials() {
        assert_eq!(basic_credentials("Bearer csa_token"), Ok(None));
        assert_eq!(basic_credentials("Digest x"), Ok(None));
    }

    #[test]
    fn refuses_basic_values_that_cannot_be_read() {
        for value in [
            "Basic".to_owned(),
            "Basic ".to_owned(),
            "Basic !!!not-base64".to_owned(),
            basic("no-colon"),
            basic(":secret"),
            basic("id:"),
            basic("id:%zz"),
            basic("id:%e9"),
            basic(&format!("id:{}", "x".repeat(300))),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode([b'i', b':', 0xff])
            ),
        ] {
            assert_eq!(
                basic_credentials(&value),
                Err(ClientCredentialsError::Malformed),
                "{value}"
            );
        }
    }

    #[test]
    fn posted_credentials_must_be_present_and_bounded() {
        assert!(posted_credentials("csic_a", "csis_b").is_ok());
        assert!(posted_credentials("", "csis_b").is_err());
        assert!(posted_credentials("csic_a", "").is_err());
        assert!(posted_credentials("csic_a", &"s".repeat(257)).is_err());
    }

    proptest! {
        #[test]
        fn basic_credentials_round_trip_any_text(
            id in "\\PC{1,60}",
            secret in "\\PC{1,60}",
        ) {
            let value = basic(&format!("{}:{}", crate::form::encode(&id), crate::form::encode(&secret)));
            let fits = id.len() <= MAX_CREDENTIAL_LEN && secret.len() <= MAX_CREDENTIAL_LEN;
            let expected = ClientCredentials { client_id: id, secret: Secret::new(secret) };
            if fits {
                prop_assert_eq!(basic_credentials(&value), Ok(Some(expected)));
            } else {
                prop_assert_eq!(basic_credentials(&value), Err(ClientCredentialsError::Malformed));
            }
        }

        #[test]
        fn basic_credentials_never_panic(value in "\\PC{0,200}") {
            let _ = basic_credentials(&value);
            let _ = basic_credentials(&format!("Basic {value}"));
        }
    }
}

//! Authorization codes, refresh tokens and their token families (SPEC §12), stored by digest
//! only. A code and a refresh token are single use: the first presentation marks them used in
//! the same statement that checks them, so two concurrent redemptions cannot both succeed; a
//! second presentation is reported as reuse so the caller can end the whole family.

use crate::{Store, StoreError, from_millis, millis, opt_from_millis, parse_id};
use countersign_core::ids::{IntegratorKeyId, OAuthFamilyId, UserId};
use countersign_core::oauth::Scopes;
use time::OffsetDateTime;

/// The tokens descending from one authorization code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthFamily {
    /// Id (named by its access tokens).
    pub id: OAuthFamilyId,
    /// The integrator key.
    pub integrator_key_id: IntegratorKeyId,
    /// The user.
    pub user_id: UserId,
    /// The scopes granted.
    pub scopes: Scopes,
    /// When the code was issued.
    pub created_at: OffsetDateTime,
    /// When the family was ended, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// An authorization code's binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthCode {
    /// Its family.
    pub family: OAuthFamily,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// The PKCE challenge (`S256`), if one was sent.
    pub code_challenge: Option<String>,
    /// When it stops being redeemable.
    pub expires_at: OffsetDateTime,
}

/// The outcome of presenting a code or a refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redemption<T> {
    /// No such code or token.
    Unknown,
    /// It was already used: the family it belongs to should end.
    Reused(OAuthFamilyId),
    /// It was valid and is now used.
    Redeemed(T),
}

type FamilyRow = (String, String, String, i64, i64, Option<i64>);
/// A family's columns, then the code's redirect URI, challenge and expiry.
type CodeRow = (
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    String,
    Option<String>,
    i64,
);
/// A family's columns, then the refresh token's expiry.
type RefreshRow = (String, String, String, i64, i64, Option<i64>, i64);

const FAMILY_COLUMNS: &str =
    "f.id, f.integrator_key_id, f.user_id, f.scopes, f.created_at, f.revoked_at";

fn family_from(row: FamilyRow) -> Result<OAuthFamily, StoreError> {
    Ok(OAuthFamily {
        id: parse_id(&row.0, OAuthFamilyId::parse)?,
        integrator_key_id: parse_id(&row.1, IntegratorKeyId::parse)?,
        user_id: parse_id(&row.2, UserId::parse)?,
        scopes: Scopes::from_bits(row.3),
        created_at: from_millis(row.4)?,
        revoked_at: opt_from_millis(row.5)?,
    })
}

impl Store {
    /// Stores a new family and its authorization code (by digest); codes that expired before
    /// `now` are deleted on the way, so unredeemed codes do not accumulate.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn insert_oauth_code(
        &self,
        digest: &str,
        code: &OAuthCode,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let family = &code.family;
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1")
            .bind(millis(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO oauth_token_families (id, integrator_key_id, user_id, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(family.id.to_string())
        .bind(family.integrator_key_id.to_string())
        .bind(family.user_id.to_string())
        .bind(family.scopes.bits())
        .bind(millis(family.created_at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO oauth_codes (digest, family_id, redirect_uri, code_challenge, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(digest)
        .bind(family.id.to_string())
        .bind(&code.redirect_uri)
        .bind(code.code_challenge.as_deref())
        .bind(millis(now))
        .bind(millis(code.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Redeems an authorization code: marks it used and returns its binding. An expired code
    /// is used up too, and answered with its binding: the caller refuses it by `expires_at`.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn redeem_oauth_code(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Redemption<OAuthCode>, StoreError> {
        let sql = format!(
            "SELECT {FAMILY_COLUMNS}, c.redirect_uri, c.code_challenge, c.expires_at FROM oauth_codes c \
             JOIN oauth_token_families f ON f.id = c.family_id WHERE c.digest = $1"
        );
        let row: Option<CodeRow> = sqlx::query_as(&sql)
            .bind(digest)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(Redemption::Unknown);
        };
        let family = family_from((row.0, row.1, row.2, row.3, row.4, row.5))?;
        let done = sqlx::query(
            "UPDATE oauth_codes SET used_at = $1 WHERE digest = $2 AND used_at IS NULL",
        )
        .bind(millis(now))
        .bind(digest)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(Redemption::Reused(family.id));
        }
        Ok(Redemption::Redeemed(OAuthCode {
            family,
            redirect_uri: row.6,
            code_challenge: row.7,
            expires_at: from_millis(row.8)?,
        }))
    }

    /// Stores a refresh token (by digest) of a family; refresh tokens that expired before
    /// `now` are deleted on the way.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn insert_oauth_refresh_token(
        &self,
        family: OAuthFamilyId,
        digest: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM oauth_refresh_tokens WHERE expires_at < $1")
            .bind(millis(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO oauth_refresh_tokens (digest, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(digest)
        .bind(family.to_string())
        .bind(millis(now))
        .bind(millis(expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Redeems a refresh token: marks it used and returns its family and expiry.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn redeem_oauth_refresh_token(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Redemption<(OAuthFamily, OffsetDateTime)>, StoreError> {
        let sql = format!(
            "SELECT {FAMILY_COLUMNS}, r.expires_at FROM oauth_refresh_tokens r \
             JOIN oauth_token_families f ON f.id = r.family_id WHERE r.digest = $1"
        );
        let row: Option<RefreshRow> = sqlx::query_as(&sql)
            .bind(digest)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(Redemption::Unknown);
        };
        let family = family_from((row.0, row.1, row.2, row.3, row.4, row.5))?;
        let done = sqlx::query(
            "UPDATE oauth_refresh_tokens SET used_at = $1 WHERE digest = $2 AND used_at IS NULL",
        )
        .bind(millis(now))
        .bind(digest)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(Redemption::Reused(family.id));
        }
        Ok(Redemption::Redeemed((family, from_millis(row.6)?)))
    }

    /// Ends a token family; returns whether it was active.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn revoke_oauth_family(
        &self,
        family: OAuthFamilyId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE oauth_token_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(millis(now))
        .bind(family.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A token family.
    ///
    /// # Errors
    /// Returns `Backend` on database failure.
    pub async fn find_oauth_family(
        &self,
        id: OAuthFamilyId,
    ) -> Result<Option<OAuthFamily>, StoreError> {
        let sql = format!("SELECT {FAMILY_COLUMNS} FROM oauth_token_families f WHERE f.id = $1");
        let row: Option<FamilyRow> = sqlx::query_as(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(family_from).transpose()
    }
}

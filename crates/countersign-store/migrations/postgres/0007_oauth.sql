-- DocuSign OAuth 2.0 (SPEC §12): integrator keys as OAuth clients (redirect URIs, client
-- secrets, RSA public keys), admin and user consents, authorization codes, refresh-token
-- families. Secrets, codes and refresh tokens are stored only as HMAC-SHA256 digests under the
-- server pepper (hex); RSA private keys are never stored. Scopes are bit sets (signature 1,
-- impersonation 2, extended 4, openid 8). Times are Unix milliseconds; booleans 0/1.

-- Registered redirect URIs, one per line (a URI holds no line break).
ALTER TABLE integrator_keys ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE integrator_keys ADD COLUMN allow_implicit BIGINT NOT NULL DEFAULT 0;

CREATE TABLE oauth_client_secrets (
    id TEXT PRIMARY KEY NOT NULL,
    integrator_key_id TEXT NOT NULL REFERENCES integrator_keys (id) ON DELETE CASCADE,
    secret_digest TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX oauth_client_secrets_key ON oauth_client_secrets (integrator_key_id);

CREATE TABLE oauth_rsa_keys (
    id TEXT PRIMARY KEY NOT NULL,
    integrator_key_id TEXT NOT NULL REFERENCES integrator_keys (id) ON DELETE CASCADE,
    public_key_pem TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (integrator_key_id, fingerprint)
);

-- An administrator's consent on behalf of the organization: for every user, or for those
-- listed in oauth_admin_consent_users.
CREATE TABLE oauth_admin_consents (
    integrator_key_id TEXT PRIMARY KEY NOT NULL REFERENCES integrator_keys (id) ON DELETE CASCADE,
    scopes BIGINT NOT NULL,
    all_users BIGINT NOT NULL,
    granted_at BIGINT NOT NULL,
    granted_by TEXT NOT NULL
);

CREATE TABLE oauth_admin_consent_users (
    integrator_key_id TEXT NOT NULL REFERENCES oauth_admin_consents (integrator_key_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (integrator_key_id, user_id)
);
CREATE INDEX oauth_admin_consent_users_user ON oauth_admin_consent_users (user_id);

-- A user's own consent, given on the consent page of /oauth/auth.
CREATE TABLE oauth_user_consents (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    integrator_key_id TEXT NOT NULL REFERENCES integrator_keys (id) ON DELETE CASCADE,
    scopes BIGINT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, integrator_key_id)
);
CREATE INDEX oauth_user_consents_key ON oauth_user_consents (integrator_key_id);

-- Access tokens of (user, integrator key) issued before not_before are refused: withdrawing a
-- consent ends every token issued under it.
CREATE TABLE oauth_token_cutoffs (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    integrator_key_id TEXT NOT NULL REFERENCES integrator_keys (id) ON DELETE CASCADE,
    not_before BIGINT NOT NULL,
    PRIMARY KEY (user_id, integrator_key_id)
);

-- The tokens that descend from one authorization code; revoked as a whole when a code or a
-- refresh token is presented a second time.
CREATE TABLE oauth_token_families (
    id TEXT PRIMARY KEY NOT NULL,
    integrator_key_id TEXT NOT NULL REFERENCES integrator_keys (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX oauth_token_families_user ON oauth_token_families (user_id, integrator_key_id);

CREATE TABLE oauth_codes (
    digest TEXT PRIMARY KEY NOT NULL,
    family_id TEXT NOT NULL REFERENCES oauth_token_families (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

CREATE TABLE oauth_refresh_tokens (
    digest TEXT PRIMARY KEY NOT NULL,
    family_id TEXT NOT NULL REFERENCES oauth_token_families (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oauth_refresh_tokens_family ON oauth_refresh_tokens (family_id);
CREATE INDEX oauth_refresh_tokens_expiry ON oauth_refresh_tokens (expires_at);

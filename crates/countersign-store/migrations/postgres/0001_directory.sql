-- The directory (SPEC §1), API users, admin sessions, audit events and server secrets.
-- Times are Unix milliseconds; booleans are 0/1; ids are lower-case hyphenated UUID text.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    legacy_header_enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE environments (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('production', 'sandbox')),
    created_at BIGINT NOT NULL
);
CREATE INDEX environments_organization ON environments (organization_id);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX accounts_environment ON accounts (environment_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    password_hash TEXT,
    credential_version BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (organization_id, email_lower)
);
CREATE INDEX users_email_lower ON users (email_lower);

CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    permissions BIGINT NOT NULL,
    is_default BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, account_id)
);
CREATE INDEX memberships_account ON memberships (account_id);

-- API passwords (DocuSign legacy header): `base64(id || secret)`, stored as argon2id hashes; a
-- user may hold several, all ended by a password change or an API-password reset.
CREATE TABLE api_passwords (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX api_passwords_user ON api_passwords (user_id);

CREATE TABLE environment_admins (
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (environment_id, user_id)
);
CREATE INDEX environment_admins_user ON environment_admins (user_id);

CREATE TABLE integrator_keys (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    legacy_sunset_at BIGINT,
    deprecated_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX integrator_keys_organization ON integrator_keys (organization_id);

CREATE TABLE api_users (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    username_lower TEXT NOT NULL UNIQUE,
    scope_type TEXT NOT NULL CHECK (scope_type IN ('user', 'environment', 'organization')),
    scope_user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    scope_environment_id TEXT REFERENCES environments (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT,
    last_used_at BIGINT
);
CREATE INDEX api_users_organization ON api_users (organization_id);

CREATE TABLE api_user_keys (
    id TEXT PRIMARY KEY NOT NULL,
    api_user_id TEXT NOT NULL REFERENCES api_users (id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    valid_until BIGINT
);
CREATE INDEX api_user_keys_api_user ON api_user_keys (api_user_id);

CREATE TABLE admin_sessions (
    digest TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_id);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    organization_id TEXT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    source_ip TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    detail TEXT
);
CREATE INDEX audit_events_organization ON audit_events (organization_id, id);

CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

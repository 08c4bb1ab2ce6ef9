-- Resource servers registered to call POST /v1/introspect (RFC 7662) for one organization's
-- tokens. The secret is stored only as HMAC-SHA256 under the server pepper, hex encoded.
CREATE TABLE introspection_clients (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    secret_digest TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX introspection_clients_organization ON introspection_clients (organization_id);

-- Credential lifecycle (SPEC §13): the organization's policy, when each key was used, webhooks
-- with their events and delivery queue, and the lease that lets one node at a time run the
-- lifecycle checks. Times are Unix milliseconds.

-- Policy. expiry_warning_days is a comma-separated list of whole days, tightest last.
ALTER TABLE organizations ADD COLUMN api_user_max_lifetime_days BIGINT NOT NULL DEFAULT 730;
ALTER TABLE organizations ADD COLUMN api_user_unused_revoke_days BIGINT;
ALTER TABLE organizations ADD COLUMN expiry_warning_days TEXT NOT NULL DEFAULT '30,7,1';
ALTER TABLE organizations ADD COLUMN leak_response TEXT NOT NULL DEFAULT 'revoke';

-- The address an API user was last used from (batched with last_used_at).
ALTER TABLE api_users ADD COLUMN last_used_ip TEXT;
CREATE INDEX api_users_expiry ON api_users (organization_id, expires_at);

-- Key use: the first use is written at once, later ones batched (a retiring key's at once);
-- retire_after_silence_minutes is set on keys a rotation left retiring.
ALTER TABLE api_user_keys ADD COLUMN first_used_at BIGINT;
ALTER TABLE api_user_keys ADD COLUMN last_used_at BIGINT;
ALTER TABLE api_user_keys ADD COLUMN last_used_ip TEXT;
ALTER TABLE api_user_keys ADD COLUMN retire_after_silence_minutes BIGINT;
CREATE INDEX api_user_keys_valid_until ON api_user_keys (valid_until);

-- Webhook endpoints. The signing secret is sealed (ChaCha20-Poly1305 under a server key, the
-- endpoint id as associated data), never stored in the clear; events is a space-separated list.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX webhooks_organization ON webhooks (organization_id);

-- Every lifecycle event once: (subject, type, mark) is unique, so a node that crashes between
-- noticing and recording, or two nodes noticing together, never create it twice. payload is
-- the exact JSON body every delivery signs and sends.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    mark TEXT NOT NULL,
    mark_days BIGINT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (subject, type, mark)
);
CREATE INDEX webhook_events_organization ON webhook_events (organization_id, created_at);

-- The delivery queue and its log: one row per attempt. A pending row is due at due_at and is
-- claimed by one node (claimed_until) while it is sent.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'delivered', 'failed')),
    due_at BIGINT NOT NULL,
    claimed_until BIGINT,
    at BIGINT,
    status_code BIGINT,
    error TEXT,
    UNIQUE (webhook_id, event_id, attempt)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (outcome, due_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

-- Named leases: the lifecycle checks run on whichever node holds 'lifecycle'.
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

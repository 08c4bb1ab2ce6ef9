-- SPEC §14: sessions ended by the people they act for, leaked-key reports, and the directory
-- version each live node has applied (revocation receipts).

-- "Sessions ended before": a session token acting as `user_id` issued before `ended_before`
-- (Unix milliseconds, a whole second) is refused. `api_user_id` and `key_id` narrow the cut to
-- the sessions of one API user or one of its keys; '' means any. One row per cut, moved only
-- forward.
CREATE TABLE session_ends (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    api_user_id TEXT NOT NULL DEFAULT '',
    key_id TEXT NOT NULL DEFAULT '',
    ended_before BIGINT NOT NULL,
    PRIMARY KEY (user_id, api_user_id, key_id)
);

-- Keys reported leaked (secret-scanning partner reports), shown as a console banner until an
-- organization administrator dismisses them. No key or token is stored, only which key it was.
CREATE TABLE leak_reports (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    api_user_id TEXT NOT NULL,
    api_username TEXT NOT NULL,
    key_id TEXT NOT NULL,
    url TEXT,
    source TEXT,
    response TEXT NOT NULL CHECK (response IN ('revoked', 'notified')),
    reported_at BIGINT NOT NULL,
    dismissed_at BIGINT,
    dismissed_by TEXT
);
CREATE INDEX leak_reports_organization ON leak_reports (organization_id, dismissed_at);

-- A leak report looks keys up by digest.
CREATE INDEX api_user_keys_digest ON api_user_keys (digest);

-- One row per running node: the directory version it has applied, refreshed every second and
-- removed on graceful shutdown. A node whose row is older than 10 s is not live.
CREATE TABLE node_heartbeats (
    node_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    applied_version BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);

-- Legacy-header usage per (integrator key, authenticated user, on-behalf-of user or '' for none),
-- merged additively by every node's flusher so several nodes count correctly.
CREATE TABLE legacy_usage (
    integrator_key_id TEXT NOT NULL REFERENCES integrator_keys (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    on_behalf_of_user_id TEXT NOT NULL DEFAULT '',
    requests BIGINT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (integrator_key_id, user_id, on_behalf_of_user_id)
);

-- Requests per account touched by a usage row.
CREATE TABLE legacy_usage_accounts (
    integrator_key_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    on_behalf_of_user_id TEXT NOT NULL DEFAULT '',
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    requests BIGINT NOT NULL,
    PRIMARY KEY (integrator_key_id, user_id, on_behalf_of_user_id, account_id),
    FOREIGN KEY (integrator_key_id, user_id, on_behalf_of_user_id)
        REFERENCES legacy_usage (integrator_key_id, user_id, on_behalf_of_user_id) ON DELETE CASCADE
);

-- Distinct source IPs ('ip') and user agents ('ua') with when each was last seen; reads keep
-- the ten most recent, the flusher prunes older ones.
CREATE TABLE legacy_usage_sources (
    integrator_key_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    on_behalf_of_user_id TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('ip', 'ua')),
    value TEXT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (integrator_key_id, user_id, on_behalf_of_user_id, kind, value),
    FOREIGN KEY (integrator_key_id, user_id, on_behalf_of_user_id)
        REFERENCES legacy_usage (integrator_key_id, user_id, on_behalf_of_user_id) ON DELETE CASCADE
);

-- Requests per UTC day and integrator key, for the console chart.
CREATE TABLE legacy_usage_daily (
    integrator_key_id TEXT NOT NULL REFERENCES integrator_keys (id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (integrator_key_id, day)
);

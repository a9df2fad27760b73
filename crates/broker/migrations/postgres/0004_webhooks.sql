-- Lifecycle webhooks (Standard Webhooks). One endpoint per workspace; its signing secret is sealed
-- like credentials. During a rotation the previous secret also signs until `previous_until`.
CREATE TABLE webhook_endpoints (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    key_id TEXT NOT NULL,
    secret BYTEA NOT NULL,
    previous_key_id TEXT,
    previous_secret BYTEA,
    previous_until BIGINT,
    updated_at BIGINT NOT NULL
);

-- The outbox: written in the same transaction as the account change that caused the event, so an
-- event exists exactly when its change committed. `id` is the webhook-id of every attempt.
-- Senders claim due rows with a lease (`lease_owner`, `lease_until`), so one replica at a time
-- delivers each row and a sender killed mid-delivery leaves a row another sender retakes later.
CREATE TABLE webhook_outbox (
    id TEXT PRIMARY KEY,
    -- Insertion order, for the log and for delivery order (SQLite uses its rowid).
    seq BIGSERIAL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    delivered_at BIGINT,
    failed_at BIGINT,
    last_status BIGINT,
    last_error TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_outbox_log ON webhook_outbox (workspace_id, created_at);

-- Per-workspace app settings: marketplace visibility, the accounts policy override, and the
-- workspace's own ("white-label") OAuth client: the current one, whether it was tested with exactly
-- its current settings, and whether new connections use it.
CREATE TABLE workspace_apps (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    app_id TEXT NOT NULL,
    hidden BOOLEAN NOT NULL DEFAULT FALSE,
    accounts_policy TEXT,
    own_client_id TEXT,
    own_settings_hash TEXT,
    tested_settings_hash TEXT,
    own_client_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, app_id)
);

-- Every OAuth client a workspace ever set for an app, so accounts created with an older client keep
-- refreshing with it after the workspace moves to a new one. Secrets are sealed like credentials.
CREATE TABLE oauth_clients (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    app_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    secret BYTEA NOT NULL,
    scopes TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, app_id, client_id)
);

-- OAuth test runs started from the admin console: the attempt they ride on and the step log.
ALTER TABLE oauth_attempts ADD COLUMN purpose TEXT NOT NULL DEFAULT 'connect';
ALTER TABLE oauth_attempts ADD COLUMN step_log TEXT;

-- Admin console sign-ins: a cookie holds the session id; only its hash is stored.
CREATE TABLE admin_sessions (
    id_hash BYTEA PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

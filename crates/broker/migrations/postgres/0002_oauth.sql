-- OAuth 2.0: when the access token expires (read without decrypting), which OAuth client created
-- the account (refreshes must use it), and a lease so one refresh runs at a time across replicas.
ALTER TABLE accounts ADD COLUMN access_expires_at BIGINT;
ALTER TABLE accounts ADD COLUMN oauth_client_id TEXT;
ALTER TABLE accounts ADD COLUMN lease_owner TEXT;
ALTER TABLE accounts ADD COLUMN lease_until BIGINT;

-- One authorization attempt: the one-time state (stored hashed), the sealed PKCE verifier, where
-- the result goes, and the outcome the SDK polls.
CREATE TABLE oauth_attempts (
    id TEXT PRIMARY KEY,
    state_hash BYTEA NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    origin TEXT,
    return_to TEXT,
    key_id TEXT NOT NULL,
    verifier BYTEA NOT NULL,
    client_id TEXT NOT NULL,
    target_account_id TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    account_id TEXT,
    error_code TEXT,
    error_message TEXT,
    provider_error TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

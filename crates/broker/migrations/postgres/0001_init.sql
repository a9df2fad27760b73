-- PostgreSQL twin of migrations/sqlite/0001_init.sql (same tables, same constraints).
CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    app_key TEXT NOT NULL UNIQUE,
    secret_key_hash BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- `slot` makes the accounts policy atomic: under "one" every connect of a user to an app targets the
-- slot "one"; under "multiple" the slot is the upstream identity (or a fresh id when the app has
-- none), so the unique index turns a repeated connect into an in-place update.
-- `seq` orders accounts created in the same second (SQLite uses its implicit rowid for that).
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    seq BIGSERIAL NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    slot TEXT NOT NULL,
    display_name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    key_id TEXT NOT NULL,
    credentials BYTEA NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (workspace_id, user_id, app_id, slot)
);

-- Tether relay schema, version 1. Timestamps are Unix milliseconds (UTC). Written for SQLite;
-- PostgreSQL reads it through `migrations.rs` (its types, and the blocks marked for it).

-- only postgres
CREATE EXTENSION IF NOT EXISTS citext;
-- end only

CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    full_name     TEXT NOT NULL,
    short_name    TEXT NOT NULL,
    password_hash TEXT NOT NULL,           -- argon2id PHC string
    totp_secret   TEXT,                    -- set once TOTP enrolment is confirmed
    totp_pending  TEXT,                    -- secret offered, not yet confirmed
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE memberships (
    org_id   INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'technician', 'viewer')),
    PRIMARY KEY (org_id, user_id)
);

-- Opaque access tokens; only their SHA-256 is stored.
CREATE TABLE auth_sessions (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  BLOB NOT NULL UNIQUE,
    family      TEXT NOT NULL,             -- refresh-token family
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    used_at     INTEGER,                   -- refresh tokens: when rotated
    created_at  INTEGER NOT NULL
);
CREATE INDEX auth_sessions_family ON auth_sessions(org_id, family);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    key_hash    BLOB NOT NULL UNIQUE,
    permissions TEXT NOT NULL,             -- space-separated scopes
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE machines (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    public_key   BLOB NOT NULL UNIQUE,      -- Ed25519
    hostname     TEXT NOT NULL,
    os           TEXT NOT NULL,
    version      TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '',
    policy       TEXT NOT NULL DEFAULT '{}',
    last_seen_at INTEGER,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL
);

CREATE TABLE machine_access (
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    machine_id  INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT,
    PRIMARY KEY (org_id, machine_id, user_id, role)
);

CREATE TABLE enrollment_tokens (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    token_hash  BLOB NOT NULL UNIQUE,
    tags        TEXT NOT NULL DEFAULT '',
    max_uses    INTEGER NOT NULL,
    uses        INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    created_at  INTEGER NOT NULL
);

-- Share codes are stored as a keyed hash: a copy of the database does not reveal live codes.
CREATE TABLE share_codes (
    id          INTEGER PRIMARY KEY,
    code_hash   BLOB NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('live', 'used', 'expired', 'void')),
    hostname    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
-- Unique among live codes: issuing inserts and retries on a violation, never checks first.
CREATE UNIQUE INDEX share_codes_live ON share_codes(code_hash) WHERE state = 'live';

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    viewer_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    machine_id  INTEGER REFERENCES machines(id) ON DELETE SET NULL,
    hostname    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    end_reason  TEXT
);
CREATE INDEX sessions_org ON sessions(org_id, started_at);

-- Append-only: triggers refuse every UPDATE and DELETE.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER REFERENCES orgs(id),
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,             -- 'user:<id>', 'agent:<host>', 'ip:<addr>', 'system'
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}' -- JSON
);
CREATE INDEX audit_org_at ON audit_log(org_id, at);
-- only sqlite
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
-- only postgres
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
-- end only

CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    events      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    webhook_id  INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    payload     TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    delivered_at INTEGER
);

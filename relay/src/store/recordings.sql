-- Session recordings (relay/src/recording.rs): one row per recording, one per segment received
-- (its SHA-256 is what the relay signs when the recording ends), and who besides the
-- organisation's admins and the recording's owner may see it. The upload credential is kept as
-- its SHA-256 only. Recordings older than the organisation's retention are deleted.
CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL,
    owner_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    upload_hash BLOB NOT NULL UNIQUE,
    started_at  INTEGER NOT NULL,
    sealed_at   INTEGER,
    signature   TEXT
);
CREATE INDEX recordings_by_org ON recordings (org_id, started_at);
CREATE TABLE recording_segments (
    org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    n            INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    sha256       BLOB NOT NULL,
    PRIMARY KEY (recording_id, n)
);
CREATE TABLE recording_access (
    org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    grantee      TEXT NOT NULL,
    can_download INTEGER NOT NULL,
    can_delete   INTEGER NOT NULL,
    PRIMARY KEY (recording_id, grantee)
);
ALTER TABLE orgs ADD COLUMN recording_retention_days INTEGER NOT NULL DEFAULT 30;
-- Whether every session of the organisation is recorded (the person is told before answering).
ALTER TABLE orgs ADD COLUMN record_sessions INTEGER NOT NULL DEFAULT 0;

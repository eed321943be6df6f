-- Keys of the relay's operator, for relay-wide endpoints (/metrics): not any organisation's.
-- Only their SHA-256 is stored; the key is shown once by `tether-relay admin operator-key create`.
CREATE TABLE operator_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

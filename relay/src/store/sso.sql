-- Single sign-on with OpenID Connect, one provider per organisation.
CREATE TABLE org_sso (
    org_id         INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    issuer         TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    client_secret  BLOB NOT NULL,            -- sealed with a key derived from the relay key
    role_claim     TEXT NOT NULL,            -- e.g. `groups`
    role_map       TEXT NOT NULL,            -- JSON: [{"value": "it-admins", "role": "admin"}, ...]
    default_role   TEXT,                     -- a member no rule matches; NULL: refused
    provision      INTEGER NOT NULL,         -- 1: a first sign-in creates the member
    password_login INTEGER NOT NULL,         -- 0: only owners may still sign in with a password
    updated_at     INTEGER NOT NULL
);

-- The e-mail domains whose people sign in through an organisation's provider; one organisation
-- per domain, so an address names its provider.
CREATE TABLE sso_domains (
    domain  TEXT PRIMARY KEY COLLATE NOCASE,
    org_id  INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE
);
CREATE INDEX sso_domains_org ON sso_domains(org_id);

-- Who a provider's subject is in Tether: linked on the first sign-in, by verified e-mail.
CREATE TABLE user_identities (
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities(org_id, user_id);

-- Sign-ins made through a provider that gave a refresh token: the relay uses it every few
-- minutes, so a person disabled at the provider loses their Tether sign-in too.
CREATE TABLE sso_grants (
    family         TEXT PRIMARY KEY,        -- the sign-in's token family
    org_id         INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    refresh_token  BLOB NOT NULL,           -- the provider's, sealed
    check_at       INTEGER NOT NULL         -- next check (ms); a claim moves it on
);
CREATE INDEX sso_grants_due ON sso_grants(check_at);

-- Access policies per machine group (a tag). A machine without a policy of its own takes the
-- policy of the first of its tags that has one; `machines.policy = '{}'` means "none of its own".
CREATE TABLE group_policies (
    org_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    policy     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, tag)
);

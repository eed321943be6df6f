-- What files may pass in an organisation's sessions: at all, and how large (NULL: no limit).
-- Sessions carry these to the agent and the viewer, which both enforce them.
ALTER TABLE orgs ADD COLUMN files_allowed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE orgs ADD COLUMN max_file_bytes INTEGER;

-- Recording per organisation becomes off (0), always (1, what record_sessions = 1 meant) or on
-- the supporter's request (2).
ALTER TABLE orgs RENAME COLUMN record_sessions TO recording_mode;

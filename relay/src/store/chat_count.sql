-- How many chat messages a session carried, as the party that ended it counted them. The
-- messages travel peer to peer and are never stored; this count is all the relay keeps.
ALTER TABLE sessions ADD COLUMN chat_messages INTEGER;

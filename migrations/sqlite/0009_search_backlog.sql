-- Messages reach the full-text index in batches. FTS5 writes a segment of its index at the end
-- of every transaction (and every savepoint) that changed it: one a message when each send and
-- each answer indexed itself, a tenth of a chat turn's CPU. A message now waits in
-- `search_backlog` (one row, written in its own transaction) until the indexer moves every
-- waiting message into the index at once: every second, and before each search, so a search
-- finds everything committed before it.
--
-- Taking an entry out of the index needs the text it was indexed with, so a message that is
-- changed or deleted while it waits only leaves the backlog (the index never had it).
CREATE TABLE search_backlog (message_rowid INTEGER PRIMARY KEY);

DROP TRIGGER messages_search_insert;
DROP TRIGGER messages_search_delete;
DROP TRIGGER messages_search_update;

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN new.status <> 'streaming' BEGIN
    INSERT OR IGNORE INTO search_backlog (message_rowid) VALUES (new.rowid);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages WHEN old.status <> 'streaming' BEGIN
    INSERT INTO messages_search (messages_search, rowid, content)
        SELECT 'delete', old.rowid, old.content WHERE NOT EXISTS (SELECT 1 FROM search_backlog WHERE message_rowid = old.rowid);
    DELETE FROM search_backlog WHERE message_rowid = old.rowid;
END;
-- One trigger, so the old entry always leaves before the new one is queued.
CREATE TRIGGER messages_search_update AFTER UPDATE OF content, status ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, content)
        SELECT 'delete', old.rowid, old.content
        WHERE old.status <> 'streaming' AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE message_rowid = old.rowid);
    DELETE FROM search_backlog WHERE message_rowid = new.rowid AND new.status = 'streaming';
    INSERT OR IGNORE INTO search_backlog (message_rowid) SELECT new.rowid WHERE new.status <> 'streaming';
END;

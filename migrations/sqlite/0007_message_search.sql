-- Full-text search over a user's messages (GET /v1/search): an FTS5 index of messages' content
-- (Porter stemming over Unicode words, accents folded), kept by triggers. An answer is indexed
-- when it ends, not while it is generated: its checkpoints would rewrite the index every few
-- hundred tokens, and half an answer is not worth finding.
CREATE VIRTUAL TABLE messages_search USING fts5 (
    content,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO messages_search (rowid, content) SELECT rowid, content FROM messages WHERE status <> 'streaming';

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN new.status <> 'streaming' BEGIN
    INSERT INTO messages_search (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages WHEN old.status <> 'streaming' BEGIN
    INSERT INTO messages_search (messages_search, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
-- One trigger, so the old entry always leaves before the new one arrives.
CREATE TRIGGER messages_search_update AFTER UPDATE OF content, status ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, content) SELECT 'delete', old.rowid, old.content WHERE old.status <> 'streaming';
    INSERT INTO messages_search (rowid, content) SELECT new.rowid, new.content WHERE new.status <> 'streaming';
END;

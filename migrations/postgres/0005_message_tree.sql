-- A session's messages are a tree: each message has a parent (the first of a branch has
-- none) and a depth (its distance from the root), and the session has an active leaf, the
-- end of the path that history, context, export and fork follow. Regenerate and edit add
-- siblings instead of replacing messages.
--
-- parent_id has no foreign key: a subtree is deleted by its ids (found by walking
-- parent_id), not by cascading actions (whose depth SQLite limits), the same on both databases.
ALTER TABLE messages ADD COLUMN parent_id UUID;
ALTER TABLE messages ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chat_sessions ADD COLUMN active_leaf_id UUID;

-- Existing sessions become one path, in position order, ending at their last message.
UPDATE messages SET parent_id = w.parent_id, depth = w.depth
FROM (SELECT id, LAG(id) OVER (PARTITION BY session_id ORDER BY position) AS parent_id,
             ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY position) - 1 AS depth
      FROM messages) AS w
WHERE messages.id = w.id;
UPDATE chat_sessions SET active_leaf_id = (SELECT m.id FROM messages m WHERE m.session_id = chat_sessions.id ORDER BY m.position DESC LIMIT 1);

-- A message's replies (siblings of each other) in creation order, and a session's roots.
CREATE INDEX messages_by_parent ON messages (parent_id, position);
CREATE INDEX messages_roots ON messages (session_id, position) WHERE parent_id IS NULL;

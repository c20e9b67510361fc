-- Full-text search over a user's messages (GET /v1/search): each message's words (English
-- stemming) in a generated column under a GIN index. An answer is indexed when it ends, not
-- while it is generated: half an answer is not worth finding, and its checkpoints then cost no
-- parsing.
ALTER TABLE messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (CASE WHEN status <> 'streaming' THEN to_tsvector('english'::regconfig, content) END) STORED;
CREATE INDEX messages_search ON messages USING GIN (search);

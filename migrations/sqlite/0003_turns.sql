-- Idempotency keys of sends: a retried POST within 24 hours attaches to the turn the key
-- started instead of starting another (and charging again).

CREATE TABLE idempotency_keys (
    user_id              TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idempotency_key      TEXT NOT NULL,
    request_hash         TEXT NOT NULL,
    session_id           TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    user_message_id      TEXT NOT NULL,
    assistant_message_id TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
-- The hourly purge of expired keys.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Answers being generated are owned: the instance generating one names itself and renews a
-- lease on it; only an answer whose lease has lapsed may be ended by another instance.
ALTER TABLE messages ADD COLUMN owner_instance TEXT;
ALTER TABLE messages ADD COLUMN lease_until TEXT;

-- One answer per session is generated at a time, whichever instance runs it. Rows that an
-- earlier version left streaming side by side keep only their session's latest.
UPDATE messages SET status = 'interrupted'
WHERE status = 'streaming'
  AND position < (SELECT MAX(m.position) FROM messages m WHERE m.session_id = messages.session_id AND m.status = 'streaming');
CREATE UNIQUE INDEX messages_one_streaming_per_session ON messages (session_id) WHERE status = 'streaming';

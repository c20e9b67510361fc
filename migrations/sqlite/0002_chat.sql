-- Chat: projects with their system prompts, sessions, messages and usage events.

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX projects_by_owner ON projects (owner_id, created_at DESC, id DESC);

CREATE TABLE prompts (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    text       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX prompts_by_project ON prompts (project_id, position);

CREATE TABLE chat_sessions (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id TEXT REFERENCES projects (id) ON DELETE SET NULL,
    title      TEXT NOT NULL,
    model      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX chat_sessions_by_owner ON chat_sessions (owner_id, updated_at DESC, id DESC);

CREATE TABLE messages (
    id                TEXT PRIMARY KEY,
    session_id        TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    position          INTEGER NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content           TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'interrupted', 'failed')),
    finish_reason     TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    usage_estimated   INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (session_id, position)
);
-- Crash recovery finds streaming messages.
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';

CREATE TABLE usage_events (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id        TEXT REFERENCES chat_sessions (id) ON DELETE SET NULL,
    model             TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    estimated         INTEGER NOT NULL,
    latency_ms        INTEGER NOT NULL,
    at                TEXT NOT NULL
);
CREATE INDEX usage_events_by_user ON usage_events (user_id, at);

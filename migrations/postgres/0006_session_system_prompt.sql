-- A session's own system prompt, sent upstream after the deployment's (CHAT_SYSTEM_PROMPT) and
-- before its project's prompts.
ALTER TABLE chat_sessions ADD COLUMN system_prompt TEXT;

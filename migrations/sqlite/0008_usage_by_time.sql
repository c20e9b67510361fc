-- Everyone's usage over a period (GET /v1/admin/usage) is read by time, not by user.
CREATE INDEX usage_events_by_time ON usage_events (at);

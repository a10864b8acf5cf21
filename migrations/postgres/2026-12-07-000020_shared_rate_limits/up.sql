-- The primary rate limit's windows, shared by every instance on one database: each instance
-- counts in memory and adds what it counted here every few hundred milliseconds, in one
-- transaction (crates/persistence/src/rate_limits.rs), learning the others' counts back.
-- `caller` is `installation:ID` or `app:ID`; `reset_at` the window's end in Unix seconds.
CREATE TABLE rate_limit_windows (
    caller   TEXT PRIMARY KEY NOT NULL,
    reset_at BIGINT NOT NULL,
    used     BIGINT NOT NULL
);
CREATE INDEX rate_limit_windows_reset ON rate_limit_windows (reset_at);

-- What ends installation access tokens before they expire, or lets them work again: a token
-- revoked (DELETE /installation/token), an installation suspended or unsuspended. One log,
-- so that every instance follows every change by `id` with one indexed query. SQLite has one
-- writer at a time, so ids become visible in the order they were given out; AUTOINCREMENT
-- keeps an id from being given out again after the newest row is purged.
CREATE TABLE credential_changes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    action          TEXT NOT NULL
        CHECK (action IN ('token.revoked', 'installation.suspended', 'installation.unsuspended')),
    installation_id BIGINT NOT NULL REFERENCES installations (id),
    -- The revoked token's `jti` and its own expiry; NULL for suspensions. Once the token has
    -- expired the row serves no purpose and is purged.
    jti             TEXT UNIQUE,
    expires_at      TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    CHECK ((action = 'token.revoked') = (jti IS NOT NULL AND expires_at IS NOT NULL))
);
-- Start-up (the revocations still in force) and purging (those no longer).
CREATE INDEX credential_changes_expires ON credential_changes (expires_at);

-- What ends installation access tokens before they expire, or lets them work again: a token
-- revoked (DELETE /installation/token), an installation suspended or unsuspended. One log,
-- so that every instance follows every change by `id` with one indexed query. Writers lock
-- the table (EXCLUSIVE, which plain reads do not wait for) for the rest of their
-- transaction, so ids become visible in the order they were given out and a follower that
-- has read up to an id never misses a smaller one.
CREATE TABLE credential_changes (
    id              BIGSERIAL PRIMARY KEY,
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

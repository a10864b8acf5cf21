-- An organization's revocation of a token's access is told to the token's owner, as GitHub
-- e-mails them: a notice of kind `revoked`, for the grant's request, with the revocation's
-- reason (kept on its audit event). Who is told is decided in Rust, in the revocation's
-- transaction (crates/persistence/src/routing.rs); this only admits the kind.
-- SQLite cannot change a CHECK constraint: the table is built anew and its rows copied.
CREATE TABLE notifications_next (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL CHECK (kind IN ('approved', 'denied', 'revoked', 'digest')),
    org_id          BIGINT NOT NULL REFERENCES organizations (id),
    event_id        BIGINT REFERENCES audit_events (id),
    request_id      BIGINT REFERENCES pat_requests (id),
    period_start    TIMESTAMP,
    recipient       TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    leased_by       TEXT,
    lease_until     TIMESTAMP,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    UNIQUE (org_id, period_start)
);
INSERT INTO notifications_next (id, kind, org_id, event_id, request_id, period_start, recipient, status, attempts, next_attempt_at, leased_by, lease_until, last_error, created_at, sent_at)
    SELECT id, kind, org_id, event_id, request_id, period_start, recipient, status, attempts, next_attempt_at, leased_by, lease_until, last_error, created_at, sent_at FROM notifications;
DROP TABLE notifications;
-- The trigger that queues review notices names `notifications` in its body: with the legacy
-- rename, SQLite leaves it as it is rather than refusing it while the table is missing.
PRAGMA legacy_alter_table = ON;
ALTER TABLE notifications_next RENAME TO notifications;
PRAGMA legacy_alter_table = OFF;
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notifications_org_failed ON notifications (org_id) WHERE status = 'failed';
CREATE INDEX notifications_done ON notifications (created_at) WHERE status <> 'pending';

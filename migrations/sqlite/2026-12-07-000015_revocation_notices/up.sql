-- An organization's revocation of a token's access is told to the token's owner, as GitHub
-- e-mails them: a notice of kind `revoked`, for the grant's request, with the revocation's
-- reason (kept on its audit event).
-- SQLite cannot change a CHECK constraint: the table is built anew and its rows copied.
DROP TRIGGER audit_events_notifications;
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
ALTER TABLE notifications_next RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notifications_org_failed ON notifications (org_id) WHERE status = 'failed';
CREATE INDEX notifications_done ON notifications (created_at) WHERE status <> 'pending';

CREATE TRIGGER audit_events_notifications AFTER INSERT ON audit_events
    WHEN (NEW.subject_type = 'request' AND NEW.action IN ('request.approved', 'request.denied'))
      OR (NEW.subject_type = 'grant' AND NEW.action = 'grant.revoked')
BEGIN
    INSERT INTO notifications
        (kind, org_id, event_id, request_id, recipient, status, next_attempt_at, created_at)
    SELECT CASE NEW.action WHEN 'request.approved' THEN 'approved'
                           WHEN 'request.denied' THEN 'denied'
                           ELSE 'revoked' END,
           NEW.org_id, NEW.id, r.id, u.email, 'pending', NEW.created_at, NEW.created_at
    FROM pat_requests r
    JOIN users u ON u.id = r.owner_id
    WHERE r.id = CASE WHEN NEW.subject_type = 'grant'
                      THEN (SELECT g.request_id FROM pat_grants g WHERE g.id = NEW.subject_id)
                      ELSE NEW.subject_id END
      AND u.email IS NOT NULL
      AND trim(u.email) <> ''
      AND NOT EXISTS (SELECT 1 FROM notification_settings s
                      WHERE s.org_id = NEW.org_id AND NOT s.email);
END;

-- The same notice, action `revoked`, to the organization's active hooks subscribed to
-- `personal_access_token_request_notification`. GitHub's `personal_access_token_request`
-- event has no revocation, so nothing else is sent.
CREATE TRIGGER audit_events_revocation_hooks AFTER INSERT ON audit_events
    WHEN NEW.subject_type = 'grant' AND NEW.action = 'grant.revoked'
BEGIN
    INSERT INTO webhook_deliveries
        (guid, event_id, hook_id, org_id, event, action, status, next_attempt_at, created_at)
    SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
                 || substr(hex(randomblob(2)), 2) || '-'
                 || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)
                 || '-' || hex(randomblob(6))),
           NEW.id, h.id, NEW.org_id, 'personal_access_token_request_notification', 'revoked',
           'pending', NEW.created_at, NEW.created_at
    FROM org_webhooks h
    WHERE h.org_id = NEW.org_id
      AND h.active
      AND (h.events LIKE '%"personal_access_token_request_notification"%'
           OR h.events LIKE '%"*"%');
END;

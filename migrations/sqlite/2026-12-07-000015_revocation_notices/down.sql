DROP TRIGGER audit_events_revocation_hooks;
DROP TRIGGER audit_events_notifications;
DELETE FROM notifications WHERE kind = 'revoked';
CREATE TABLE notifications_next (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL CHECK (kind IN ('approved', 'denied', 'digest')),
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
INSERT INTO notifications_next SELECT * FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_next RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notifications_org_failed ON notifications (org_id) WHERE status = 'failed';
CREATE INDEX notifications_done ON notifications (created_at) WHERE status <> 'pending';
CREATE TRIGGER audit_events_notifications AFTER INSERT ON audit_events
    WHEN NEW.subject_type = 'request' AND NEW.action IN ('request.approved', 'request.denied')
BEGIN
    INSERT INTO notifications
        (kind, org_id, event_id, request_id, recipient, status, next_attempt_at, created_at)
    SELECT substr(NEW.action, 9), NEW.org_id, NEW.id, r.id, u.email, 'pending',
           NEW.created_at, NEW.created_at
    FROM pat_requests r
    JOIN users u ON u.id = r.owner_id
    WHERE r.id = NEW.subject_id
      AND u.email IS NOT NULL
      AND trim(u.email) <> ''
      AND NOT EXISTS (SELECT 1 FROM notification_settings s
                      WHERE s.org_id = NEW.org_id AND NOT s.email);
END;

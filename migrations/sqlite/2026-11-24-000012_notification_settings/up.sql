-- How an organization wants its notifications: `email = FALSE` for an organization that routes
-- them elsewhere (its hooks subscribed to the notification and digest events). No row: e-mail.
CREATE TABLE notification_settings (
    org_id     BIGINT PRIMARY KEY REFERENCES organizations (id),
    email      BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Review notices are e-mailed unless the organization turned e-mail off.
DROP TRIGGER audit_events_notifications;
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

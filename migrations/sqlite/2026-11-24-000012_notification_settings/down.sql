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
      AND trim(u.email) <> '';
END;
DROP TABLE notification_settings;

DROP TRIGGER audit_events_revocation_hooks ON audit_events;
DROP FUNCTION patgate_enqueue_revocation_hooks();
DROP TRIGGER audit_events_notifications ON audit_events;
CREATE OR REPLACE FUNCTION patgate_enqueue_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
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
    RETURN NULL;
END $$;
CREATE TRIGGER audit_events_notifications AFTER INSERT ON audit_events
    FOR EACH ROW
    WHEN (NEW.subject_type = 'request' AND NEW.action IN ('request.approved', 'request.denied'))
    EXECUTE FUNCTION patgate_enqueue_notifications();
DELETE FROM notifications WHERE kind = 'revoked';
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('approved', 'denied', 'digest'));

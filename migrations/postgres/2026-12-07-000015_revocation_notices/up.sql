-- An organization's revocation of a token's access is told to the token's owner, as GitHub
-- e-mails them: a notice of kind `revoked`, for the grant's request, with the revocation's
-- reason (kept on its audit event).
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('approved', 'denied', 'revoked', 'digest'));

CREATE OR REPLACE FUNCTION patgate_enqueue_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
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
    RETURN NULL;
END $$;

DROP TRIGGER audit_events_notifications ON audit_events;
CREATE TRIGGER audit_events_notifications AFTER INSERT ON audit_events
    FOR EACH ROW
    WHEN ((NEW.subject_type = 'request' AND NEW.action IN ('request.approved', 'request.denied'))
          OR (NEW.subject_type = 'grant' AND NEW.action = 'grant.revoked'))
    EXECUTE FUNCTION patgate_enqueue_notifications();

-- The same notice, action `revoked`, to the organization's active hooks subscribed to
-- `personal_access_token_request_notification`. GitHub's `personal_access_token_request`
-- event has no revocation, so nothing else is sent.
CREATE FUNCTION patgate_enqueue_revocation_hooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (guid, event_id, hook_id, org_id, event, action, status, next_attempt_at, created_at)
    SELECT gen_random_uuid()::text, NEW.id, h.id, NEW.org_id,
           'personal_access_token_request_notification', 'revoked', 'pending',
           NEW.created_at, NEW.created_at
    FROM org_webhooks h
    WHERE h.org_id = NEW.org_id
      AND h.active
      AND (h.events LIKE '%"personal_access_token_request_notification"%'
           OR h.events LIKE '%"*"%');
    RETURN NULL;
END $$;

CREATE TRIGGER audit_events_revocation_hooks AFTER INSERT ON audit_events
    FOR EACH ROW
    WHEN (NEW.subject_type = 'grant' AND NEW.action = 'grant.revoked')
    EXECUTE FUNCTION patgate_enqueue_revocation_hooks();

-- The triggers as migrations …_org_webhooks and …_notification_settings left them.
CREATE FUNCTION patgate_enqueue_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (guid, event_id, app_id, installation_id, org_id, event, action, status, next_attempt_at, created_at)
    SELECT gen_random_uuid()::text, NEW.id, i.app_id, i.id, NEW.org_id, 'personal_access_token_request',
           substr(NEW.action, 9), 'pending', NEW.created_at, NEW.created_at
    FROM installations i
    JOIN app_webhooks h ON h.app_id = i.app_id AND h.active
    WHERE i.org_id = NEW.org_id
      AND i.suspended_at IS NULL
      AND i.events LIKE '%"personal_access_token_request"%'
      AND i.permissions LIKE '%"organization_personal_access_token_requests"%';
    INSERT INTO webhook_deliveries
        (guid, event_id, hook_id, org_id, event, action, status, next_attempt_at, created_at)
    SELECT gen_random_uuid()::text, NEW.id, h.id, NEW.org_id, e.event,
           substr(NEW.action, 9), 'pending', NEW.created_at, NEW.created_at
    FROM org_webhooks h
    CROSS JOIN (VALUES ('personal_access_token_request'),
                       ('personal_access_token_request_notification')) AS e (event)
    WHERE h.org_id = NEW.org_id
      AND h.active
      AND (h.events LIKE '%"' || e.event || '"%' OR h.events LIKE '%"*"%')
      AND (e.event = 'personal_access_token_request'
           OR NEW.action IN ('request.approved', 'request.denied'));
    RETURN NULL;
END $$;
CREATE TRIGGER audit_events_webhooks AFTER INSERT ON audit_events
    FOR EACH ROW
    WHEN (NEW.subject_type = 'request'
          AND NEW.action IN ('request.created', 'request.approved', 'request.denied', 'request.cancelled'))
    EXECUTE FUNCTION patgate_enqueue_webhooks();
CREATE FUNCTION patgate_enqueue_notifications() RETURNS trigger LANGUAGE plpgsql AS $$
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

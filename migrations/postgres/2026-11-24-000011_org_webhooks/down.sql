DELETE FROM webhook_deliveries WHERE hook_id IS NOT NULL;
CREATE OR REPLACE FUNCTION patgate_enqueue_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (guid, event_id, app_id, installation_id, event, action, status, next_attempt_at, created_at)
    SELECT gen_random_uuid()::text, NEW.id, i.app_id, i.id, 'personal_access_token_request',
           substr(NEW.action, 9), 'pending', NEW.created_at, NEW.created_at
    FROM installations i
    JOIN app_webhooks h ON h.app_id = i.app_id AND h.active
    WHERE i.org_id = NEW.org_id
      AND i.suspended_at IS NULL
      AND i.events LIKE '%"personal_access_token_request"%'
      AND i.permissions LIKE '%"organization_personal_access_token_requests"%';
    RETURN NULL;
END $$;
DROP INDEX webhook_deliveries_hook;
ALTER TABLE webhook_deliveries
    DROP CONSTRAINT webhook_deliveries_target,
    DROP COLUMN period_start,
    DROP COLUMN org_id,
    DROP COLUMN hook_id,
    ALTER COLUMN event_id SET NOT NULL,
    ALTER COLUMN app_id SET NOT NULL,
    ALTER COLUMN installation_id SET NOT NULL;
DROP TABLE org_webhooks;

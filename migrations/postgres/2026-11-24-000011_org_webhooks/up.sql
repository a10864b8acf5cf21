-- Organization webhooks, as GitHub's `/orgs/{org}/hooks` manages them: where to send, the
-- secret that signs each body, and the events the hook receives (a JSON array of names, or
-- `["*"]` for all of them).
CREATE TABLE org_webhooks (
    id           BIGSERIAL PRIMARY KEY,
    org_id       BIGINT NOT NULL REFERENCES organizations (id),
    url          TEXT NOT NULL,
    secret       TEXT,
    content_type TEXT NOT NULL DEFAULT 'json' CHECK (content_type IN ('json', 'form')),
    events       TEXT NOT NULL,
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX org_webhooks_org ON org_webhooks (org_id, id);

-- A delivery goes to an app (through one of its installations) or to an organization's hook.
-- Events of a request point at their audit event; a digest at its period; a ping at nothing.
ALTER TABLE webhook_deliveries
    ALTER COLUMN event_id DROP NOT NULL,
    ALTER COLUMN app_id DROP NOT NULL,
    ALTER COLUMN installation_id DROP NOT NULL,
    ADD COLUMN hook_id BIGINT REFERENCES org_webhooks (id),
    ADD COLUMN org_id BIGINT REFERENCES organizations (id),
    ADD COLUMN period_start TIMESTAMP,
    ADD CONSTRAINT webhook_deliveries_target CHECK (
        (hook_id IS NULL AND app_id IS NOT NULL AND installation_id IS NOT NULL)
        OR (hook_id IS NOT NULL AND app_id IS NULL AND installation_id IS NULL AND org_id IS NOT NULL));
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (hook_id, id) WHERE hook_id IS NOT NULL;

-- Each request event goes to the subscribed installations of apps with a webhook, as before,
-- and to the organization's active hooks subscribed to `personal_access_token_request`; a
-- review also goes, as the owner's notice, to hooks subscribed to
-- `personal_access_token_request_notification`.
CREATE OR REPLACE FUNCTION patgate_enqueue_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
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

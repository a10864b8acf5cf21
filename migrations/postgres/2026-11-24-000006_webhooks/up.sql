-- An app's webhook, as GitHub's `PATCH /app/hook/config` sets it: where to send, and the secret
-- that signs each body (`X-Hub-Signature-256`).
CREATE TABLE app_webhooks (
    app_id       BIGINT PRIMARY KEY REFERENCES apps (id),
    url          TEXT NOT NULL,
    secret       TEXT,
    content_type TEXT NOT NULL DEFAULT 'json' CHECK (content_type IN ('json', 'form')),
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at   TIMESTAMP NOT NULL
);

-- One row per (event, receiving installation): the outbox. Rows are written by the trigger
-- below in the transaction that records the event, so a committed change always has its
-- deliveries and a rolled-back one never does. Instances take due rows under a lease.
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    -- X-GitHub-Delivery; a redelivery keeps the GUID of the delivery it repeats.
    guid            TEXT NOT NULL,
    event_id        BIGINT NOT NULL REFERENCES audit_events (id),
    app_id          BIGINT NOT NULL REFERENCES apps (id),
    installation_id BIGINT NOT NULL REFERENCES installations (id),
    event           TEXT NOT NULL,
    action          TEXT NOT NULL,
    -- pending: to send (again); delivered: a 2xx came back; failed: out of attempts.
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    leased_by       TEXT,
    lease_until     TIMESTAMP,
    status_code     INTEGER,
    last_error      TEXT,
    duration_ms     DOUBLE PRECISION,
    redelivery      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMP NOT NULL,
    delivered_at    TIMESTAMP
);
-- Due deliveries, oldest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_app ON webhook_deliveries (app_id, id);

CREATE FUNCTION patgate_enqueue_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- GitHub's `personal_access_token_request` actions: created, approved, denied, cancelled.
CREATE TRIGGER audit_events_webhooks AFTER INSERT ON audit_events
    FOR EACH ROW
    WHEN (NEW.subject_type = 'request'
          AND NEW.action IN ('request.created', 'request.approved', 'request.denied', 'request.cancelled'))
    EXECUTE FUNCTION patgate_enqueue_webhooks();

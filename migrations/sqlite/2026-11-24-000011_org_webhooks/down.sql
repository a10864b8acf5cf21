DROP TRIGGER audit_events_org_webhooks;
DROP TRIGGER audit_events_webhooks;
CREATE TABLE webhook_deliveries_previous (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guid            TEXT NOT NULL,
    event_id        BIGINT NOT NULL REFERENCES audit_events (id),
    app_id          BIGINT NOT NULL REFERENCES apps (id),
    installation_id BIGINT NOT NULL REFERENCES installations (id),
    event           TEXT NOT NULL,
    action          TEXT NOT NULL,
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
INSERT INTO webhook_deliveries_previous (id, guid, event_id, app_id, installation_id, event, action, status, attempts, next_attempt_at, leased_by, lease_until, status_code, last_error, duration_ms, redelivery, created_at, delivered_at)
    SELECT id, guid, event_id, app_id, installation_id, event, action, status, attempts, next_attempt_at, leased_by, lease_until, status_code, last_error, duration_ms, redelivery, created_at, delivered_at FROM webhook_deliveries WHERE hook_id IS NULL;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_previous RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_app ON webhook_deliveries (app_id, id);
CREATE TRIGGER audit_events_webhooks AFTER INSERT ON audit_events
    WHEN NEW.subject_type = 'request'
     AND NEW.action IN ('request.created', 'request.approved', 'request.denied', 'request.cancelled')
BEGIN
    INSERT INTO webhook_deliveries
        (guid, event_id, app_id, installation_id, event, action, status, next_attempt_at, created_at)
    -- A version-4 UUID, drawn for each row.
    SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
                 || substr(hex(randomblob(2)), 2) || '-'
                 || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)
                 || '-' || hex(randomblob(6))),
           NEW.id, i.app_id, i.id, 'personal_access_token_request',
           substr(NEW.action, 9), 'pending', NEW.created_at, NEW.created_at
    FROM installations i
    JOIN app_webhooks h ON h.app_id = i.app_id AND h.active
    WHERE i.org_id = NEW.org_id
      AND i.suspended_at IS NULL
      AND i.events LIKE '%"personal_access_token_request"%'
      AND i.permissions LIKE '%"organization_personal_access_token_requests"%';
END;
DROP TABLE org_webhooks;

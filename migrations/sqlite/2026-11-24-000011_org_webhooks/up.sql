-- Organization webhooks, as GitHub's `/orgs/{org}/hooks` manages them: where to send, the
-- secret that signs each body, and the events the hook receives (a JSON array of names, or
-- `["*"]` for all of them).
CREATE TABLE org_webhooks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
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
-- SQLite cannot relax a column's NOT NULL: the table is built anew and its rows copied.
DROP TRIGGER audit_events_webhooks;
CREATE TABLE webhook_deliveries_next (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guid            TEXT NOT NULL,
    event_id        BIGINT REFERENCES audit_events (id),
    app_id          BIGINT REFERENCES apps (id),
    installation_id BIGINT REFERENCES installations (id),
    hook_id         BIGINT REFERENCES org_webhooks (id),
    org_id          BIGINT REFERENCES organizations (id),
    period_start    TIMESTAMP,
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
    delivered_at    TIMESTAMP,
    CHECK ((hook_id IS NULL AND app_id IS NOT NULL AND installation_id IS NOT NULL)
           OR (hook_id IS NOT NULL AND app_id IS NULL AND installation_id IS NULL AND org_id IS NOT NULL))
);
INSERT INTO webhook_deliveries_next (id, guid, event_id, app_id, installation_id, event, action, status, attempts, next_attempt_at, leased_by, lease_until, status_code, last_error, duration_ms, redelivery, created_at, delivered_at)
    SELECT id, guid, event_id, app_id, installation_id, event, action, status, attempts, next_attempt_at, leased_by, lease_until, status_code, last_error, duration_ms, redelivery, created_at, delivered_at FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_next RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_app ON webhook_deliveries (app_id, id);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (hook_id, id) WHERE hook_id IS NOT NULL;

-- GitHub's `personal_access_token_request` actions: created, approved, denied, cancelled.
CREATE TRIGGER audit_events_webhooks AFTER INSERT ON audit_events
    WHEN NEW.subject_type = 'request'
     AND NEW.action IN ('request.created', 'request.approved', 'request.denied', 'request.cancelled')
BEGIN
    INSERT INTO webhook_deliveries
        (guid, event_id, app_id, installation_id, org_id, event, action, status, next_attempt_at, created_at)
    -- A version-4 UUID, drawn for each row.
    SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
                 || substr(hex(randomblob(2)), 2) || '-'
                 || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)
                 || '-' || hex(randomblob(6))),
           NEW.id, i.app_id, i.id, NEW.org_id, 'personal_access_token_request',
           substr(NEW.action, 9), 'pending', NEW.created_at, NEW.created_at
    FROM installations i
    JOIN app_webhooks h ON h.app_id = i.app_id AND h.active
    WHERE i.org_id = NEW.org_id
      AND i.suspended_at IS NULL
      AND i.events LIKE '%"personal_access_token_request"%'
      AND i.permissions LIKE '%"organization_personal_access_token_requests"%';
END;

-- The same events to the organization's active hooks subscribed to
-- `personal_access_token_request`; a review also goes, as the owner's notice, to hooks
-- subscribed to `personal_access_token_request_notification`.
CREATE TRIGGER audit_events_org_webhooks AFTER INSERT ON audit_events
    WHEN NEW.subject_type = 'request'
     AND NEW.action IN ('request.created', 'request.approved', 'request.denied', 'request.cancelled')
BEGIN
    INSERT INTO webhook_deliveries
        (guid, event_id, hook_id, org_id, event, action, status, next_attempt_at, created_at)
    SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
                 || substr(hex(randomblob(2)), 2) || '-'
                 || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)
                 || '-' || hex(randomblob(6))),
           NEW.id, h.id, NEW.org_id, e.event,
           substr(NEW.action, 9), 'pending', NEW.created_at, NEW.created_at
    FROM org_webhooks h
    CROSS JOIN (SELECT 'personal_access_token_request' AS event
                UNION ALL SELECT 'personal_access_token_request_notification') AS e
    WHERE h.org_id = NEW.org_id
      AND h.active
      AND (h.events LIKE '%"' || e.event || '"%' OR h.events LIKE '%"*"%')
      AND (e.event = 'personal_access_token_request'
           OR NEW.action IN ('request.approved', 'request.denied'));
END;

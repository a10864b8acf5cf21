-- Who owns an organization: its owners receive the daily digest of pending requests.
CREATE TABLE organization_owners (
    org_id  BIGINT NOT NULL REFERENCES organizations (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (org_id, user_id)
);

-- The e-mail outbox: a token owner's notice of a review (`approved`, `denied`), written by the
-- trigger below in the transaction of the review, and each organization's daily digest
-- (`digest`), written once per period by whichever instance gets there first.
CREATE TABLE notifications (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('approved', 'denied', 'digest')),
    org_id          BIGINT NOT NULL REFERENCES organizations (id),
    -- The review's audit event and request (notices only).
    event_id        BIGINT REFERENCES audit_events (id),
    request_id      BIGINT REFERENCES pat_requests (id),
    -- The start of the digest's period (digests only): one digest per organization and period.
    period_start    TIMESTAMP,
    -- The owner's address for a notice; a digest's owners are read when it is sent.
    recipient       TEXT,
    -- pending: to send (again); sent: the server accepted it; failed: out of attempts;
    -- skipped: nothing to send (no SMTP server configured, or nobody to send it to).
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    leased_by       TEXT,
    lease_until     TIMESTAMP,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    UNIQUE (org_id, period_start)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE status = 'pending';

-- One row per digest period: the instance whose insert lands decides, in the same
-- transaction, which organizations get that period's digest.
CREATE TABLE digest_runs (
    period_start TIMESTAMP PRIMARY KEY,
    created_at   TIMESTAMP NOT NULL
);

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
      AND trim(u.email) <> '';
    RETURN NULL;
END $$;

CREATE TRIGGER audit_events_notifications AFTER INSERT ON audit_events
    FOR EACH ROW
    WHEN (NEW.subject_type = 'request' AND NEW.action IN ('request.approved', 'request.denied'))
    EXECUTE FUNCTION patgate_enqueue_notifications();

-- The audit trail: one row per event in an organization's token governance (a request
-- approved or denied, a grant revoked, ...), with the app and installation that acted.
-- Append-only: updates and deletes are refused.
CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          BIGINT NOT NULL REFERENCES organizations (id),
    -- e.g. 'request.approved', 'request.denied', 'grant.revoked'
    action          TEXT NOT NULL,
    -- 'request' or 'grant'
    subject_type    TEXT NOT NULL,
    subject_id      BIGINT NOT NULL,
    app_id          BIGINT REFERENCES apps (id),
    installation_id BIGINT REFERENCES installations (id),
    reason          TEXT,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_org_created ON audit_events (org_id, created_at, id);
CREATE INDEX audit_events_subject ON audit_events (subject_type, subject_id);

CREATE TRIGGER audit_events_no_update
    BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete
    BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

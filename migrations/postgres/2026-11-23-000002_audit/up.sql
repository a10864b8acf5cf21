-- The audit trail: one row per event in an organization's token governance (a request
-- approved or denied, a grant revoked, ...), with the app and installation that acted.
-- Append-only: updates and deletes are refused.
CREATE TABLE audit_events (
    id              BIGSERIAL PRIMARY KEY,
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

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION patgate_refuse_change();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION patgate_refuse_change();

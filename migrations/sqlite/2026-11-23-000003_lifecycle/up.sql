-- Token policy per enterprise and per organization, and what token intake needs.

CREATE TABLE enterprises (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT,
    created_at TIMESTAMP NOT NULL
);

ALTER TABLE organizations ADD COLUMN enterprise_id BIGINT REFERENCES enterprises (id);

-- One row per enterprise or organization that set anything; NULL leaves a question to the
-- level below or to the default.
CREATE TABLE token_policies (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id         BIGINT UNIQUE REFERENCES enterprises (id),
    org_id                BIGINT UNIQUE REFERENCES organizations (id),
    fine_grained_allowed  BOOLEAN,
    approval_required     BOOLEAN,
    classic_allowed       BOOLEAN,
    fine_grained_max_days INTEGER,
    classic_max_days      INTEGER,
    updated_at            TIMESTAMP NOT NULL,
    CHECK ((enterprise_id IS NULL) <> (org_id IS NULL))
);

-- What a resubmission added to, or upgraded in, the access the token already had
-- (JSON objects shaped like `permissions`).
ALTER TABLE pat_requests ADD COLUMN permissions_added TEXT;
ALTER TABLE pat_requests ADD COLUMN permissions_upgraded TEXT;

-- Expiry sweeps: pending requests and active grants by the token's expiry.
CREATE INDEX pat_requests_status_expires ON pat_requests (status, token_expires_at);
CREATE INDEX pat_requests_status_created ON pat_requests (status, created_at);
CREATE INDEX pat_grants_status_expires ON pat_grants (status, token_expires_at);
-- The access check: a token's grants in an organization.
CREATE INDEX pat_grants_org_token ON pat_grants (org_id, token_id, status);
CREATE INDEX pat_requests_org_token ON pat_requests (org_id, token_id, id);

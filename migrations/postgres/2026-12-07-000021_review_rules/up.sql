-- An organization's review rules (Cedar), as immutable versions: the highest version is in
-- force. Saving an older source again is how one rolls back. `cases` is the JSON list of the
-- set's test cases; `sha256` is the source's digest.
CREATE TABLE review_rule_versions (
    id              BIGSERIAL PRIMARY KEY,
    org_id          BIGINT NOT NULL REFERENCES organizations (id),
    version         BIGINT NOT NULL CHECK (version > 0),
    mode            TEXT NOT NULL CHECK (mode IN ('off', 'shadow', 'enforce')),
    source          TEXT NOT NULL,
    cases           TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    app_id          BIGINT REFERENCES apps (id),
    installation_id BIGINT REFERENCES installations (id),
    created_at      TIMESTAMP NOT NULL,
    UNIQUE (org_id, version)
);

-- What review rules decided about a request, at its filing or when a version saved in enforce
-- mode checked the pending requests again. `acted`: the decision became a review (enforce);
-- shadow decisions are only recorded. `explanation` is JSON: the deciding rules and their
-- reasons, the hard limits that applied, the evaluation error.
CREATE TABLE review_rule_decisions (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES organizations (id),
    request_id  BIGINT NOT NULL REFERENCES pat_requests (id),
    owner_id    BIGINT NOT NULL REFERENCES users (id),
    version     BIGINT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('shadow', 'enforce')),
    outcome     TEXT NOT NULL CHECK (outcome IN ('approved', 'denied', 'pending')),
    acted       BOOLEAN NOT NULL,
    explanation TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX review_rule_decisions_request ON review_rule_decisions (request_id, id);
-- The owner's recent automatic approvals, which rules may use as a quota.
CREATE INDEX review_rule_decisions_approvals ON review_rule_decisions (owner_id, created_at)
    WHERE acted AND outcome = 'approved';

-- A version saved in enforce mode checks every request pending at the save, in batches: one
-- row per organization (a newer version replaces the run of an older one), leased by one
-- instance at a time, its cursor moved in the transaction of each batch.
CREATE TABLE review_rule_runs (
    org_id          BIGINT PRIMARY KEY REFERENCES organizations (id),
    version         BIGINT NOT NULL,
    after_id        BIGINT NOT NULL,
    until_id        BIGINT NOT NULL,
    app_id          BIGINT REFERENCES apps (id),
    installation_id BIGINT REFERENCES installations (id),
    leased_until    TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);

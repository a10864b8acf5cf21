-- Core tables: organizations, users, repositories, apps and installations, fine-grained
-- tokens, their requests for organization access, the grants approval creates, and the
-- append-only review record.

CREATE TABLE organizations (
    id          BIGSERIAL PRIMARY KEY,
    login       TEXT NOT NULL,
    login_key   TEXT NOT NULL UNIQUE,
    name        TEXT,
    description TEXT,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id         BIGSERIAL PRIMARY KEY,
    login      TEXT NOT NULL,
    login_key  TEXT NOT NULL UNIQUE,
    name       TEXT,
    email      TEXT,
    site_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE repositories (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    private     BOOLEAN NOT NULL DEFAULT TRUE,
    description TEXT,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (org_id, name_key)
);

CREATE TABLE apps (
    id          BIGSERIAL PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    client_id   TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT,
    owner_org_id BIGINT REFERENCES organizations (id),
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- An app may hold several keys at once, so that keys can be rotated without downtime.
CREATE TABLE app_keys (
    id             BIGSERIAL PRIMARY KEY,
    app_id         BIGINT NOT NULL REFERENCES apps (id),
    public_key_pem TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    UNIQUE (app_id, public_key_pem)
);

CREATE TABLE installations (
    id                   BIGSERIAL PRIMARY KEY,
    app_id               BIGINT NOT NULL REFERENCES apps (id),
    org_id               BIGINT NOT NULL REFERENCES organizations (id),
    -- JSON object: permission key -> "read" | "write" | "admin"
    permissions          TEXT NOT NULL,
    -- JSON array of event names
    events               TEXT NOT NULL,
    repository_selection TEXT NOT NULL CHECK (repository_selection IN ('all', 'selected')),
    suspended_at         TIMESTAMP,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL,
    UNIQUE (app_id, org_id)
);
CREATE INDEX installations_org ON installations (org_id);

-- Fine-grained personal access tokens: metadata only, never the secret.
CREATE TABLE tokens (
    id           BIGSERIAL PRIMARY KEY,
    owner_id     BIGINT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    expires_at   TIMESTAMP,
    last_used_at TIMESTAMP,
    created_at   TIMESTAMP NOT NULL
);
-- Names are not unique: a regenerated token keeps its name under a new id.
CREATE INDEX tokens_owner_name ON tokens (owner_id, name);

CREATE TABLE pat_requests (
    id                   BIGSERIAL PRIMARY KEY,
    org_id               BIGINT NOT NULL REFERENCES organizations (id),
    token_id             BIGINT NOT NULL REFERENCES tokens (id),
    owner_id             BIGINT NOT NULL REFERENCES users (id),
    status               TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'cancelled', 'expired')),
    reason               TEXT,
    repository_selection TEXT NOT NULL CHECK (repository_selection IN ('none', 'all', 'subset')),
    -- JSON object {"organization": {...}, "repository": {...}, "other": {...}}
    permissions          TEXT NOT NULL,
    created_at           TIMESTAMP NOT NULL,
    reviewed_at          TIMESTAMP,
    -- Copies of the token's expiry and last use, kept with the row so that list filters and
    -- sorting are served by one index.
    token_expires_at     TIMESTAMP,
    token_last_used_at   TIMESTAMP
);
CREATE INDEX pat_requests_org_status_created ON pat_requests (org_id, status, created_at, id);
CREATE INDEX pat_requests_org_status_owner ON pat_requests (org_id, status, owner_id, created_at, id);
CREATE INDEX pat_requests_org_status_last_used ON pat_requests (org_id, status, token_last_used_at);
CREATE INDEX pat_requests_token ON pat_requests (token_id);
-- At most one pending request per token and organization.
CREATE UNIQUE INDEX pat_requests_one_pending ON pat_requests (org_id, token_id) WHERE status = 'pending';

CREATE TABLE pat_request_repositories (
    request_id    BIGINT NOT NULL REFERENCES pat_requests (id),
    repository_id BIGINT NOT NULL REFERENCES repositories (id),
    PRIMARY KEY (request_id, repository_id)
);
CREATE INDEX pat_request_repositories_repo ON pat_request_repositories (repository_id, request_id);

-- One row per requested permission ("issues_read"), for the `permission` filter.
CREATE TABLE pat_request_permissions (
    request_id BIGINT NOT NULL REFERENCES pat_requests (id),
    org_id     BIGINT NOT NULL REFERENCES organizations (id),
    permission TEXT NOT NULL,
    PRIMARY KEY (request_id, permission)
);
CREATE INDEX pat_request_permissions_org ON pat_request_permissions (org_id, permission, request_id);

-- Approving a request creates exactly one grant (request_id is unique).
CREATE TABLE pat_grants (
    id                   BIGSERIAL PRIMARY KEY,
    org_id               BIGINT NOT NULL REFERENCES organizations (id),
    request_id           BIGINT NOT NULL UNIQUE REFERENCES pat_requests (id),
    token_id             BIGINT NOT NULL REFERENCES tokens (id),
    owner_id             BIGINT NOT NULL REFERENCES users (id),
    status               TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'expired')),
    repository_selection TEXT NOT NULL CHECK (repository_selection IN ('none', 'all', 'subset')),
    permissions          TEXT NOT NULL,
    access_granted_at    TIMESTAMP NOT NULL,
    ended_at             TIMESTAMP,
    token_expires_at     TIMESTAMP,
    token_last_used_at   TIMESTAMP
);
CREATE INDEX pat_grants_org_status_granted ON pat_grants (org_id, status, access_granted_at, id);
CREATE INDEX pat_grants_org_status_owner ON pat_grants (org_id, status, owner_id, access_granted_at, id);
CREATE INDEX pat_grants_org_status_last_used ON pat_grants (org_id, status, token_last_used_at);
CREATE INDEX pat_grants_token ON pat_grants (token_id);

-- Who reviewed what, when and why. Append-only: updates and deletes are refused.
CREATE TABLE pat_request_reviews (
    id              BIGSERIAL PRIMARY KEY,
    request_id      BIGINT NOT NULL REFERENCES pat_requests (id),
    org_id          BIGINT NOT NULL REFERENCES organizations (id),
    app_id          BIGINT NOT NULL REFERENCES apps (id),
    installation_id BIGINT NOT NULL REFERENCES installations (id),
    action          TEXT NOT NULL CHECK (action IN ('approve', 'deny')),
    reason          TEXT,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX pat_request_reviews_request ON pat_request_reviews (request_id);
CREATE INDEX pat_request_reviews_org_created ON pat_request_reviews (org_id, created_at);

CREATE FUNCTION patgate_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER pat_request_reviews_append_only
    BEFORE UPDATE OR DELETE ON pat_request_reviews
    FOR EACH ROW EXECUTE FUNCTION patgate_refuse_change();
CREATE TRIGGER pat_request_reviews_no_truncate
    BEFORE TRUNCATE ON pat_request_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION patgate_refuse_change();

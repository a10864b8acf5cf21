DROP INDEX pat_requests_pending_created;
DROP INDEX pat_requests_pending_owner;
DROP INDEX pat_requests_pending_last_used;
DROP INDEX pat_requests_pending_expires;
DROP INDEX pat_requests_pending_since;
CREATE INDEX pat_requests_org_status_created ON pat_requests (org_id, status, created_at, id)
    INCLUDE (repository_selection, token_last_used_at);
CREATE INDEX pat_requests_org_status_owner ON pat_requests (org_id, status, owner_id, created_at, id);
CREATE INDEX pat_requests_org_status_last_used ON pat_requests (org_id, status, token_last_used_at);
CREATE INDEX pat_requests_status_expires ON pat_requests (status, token_expires_at);
CREATE INDEX pat_requests_status_created ON pat_requests (status, created_at);

DROP INDEX pat_grants_active_granted;
DROP INDEX pat_grants_active_owner;
DROP INDEX pat_grants_active_last_used;
DROP INDEX pat_grants_active_expires;
DROP INDEX pat_grants_org_token;
CREATE INDEX pat_grants_org_status_granted ON pat_grants (org_id, status, access_granted_at, id)
    INCLUDE (repository_selection, token_last_used_at);
CREATE INDEX pat_grants_org_status_owner ON pat_grants (org_id, status, owner_id, access_granted_at, id);
CREATE INDEX pat_grants_org_status_last_used ON pat_grants (org_id, status, token_last_used_at);
CREATE INDEX pat_grants_status_expires ON pat_grants (status, token_expires_at);
CREATE INDEX pat_grants_org_token ON pat_grants (org_id, token_id, status);

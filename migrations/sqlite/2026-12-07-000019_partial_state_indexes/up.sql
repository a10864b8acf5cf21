-- The lists, counts, digests and expiry sweeps read only pending requests and active grants.
-- Their indexes now hold only those rows (partial indexes) instead of carrying `status` in
-- their keys: a review or a revocation no longer inserts a new entry into each of them (a
-- request that leaves `pending` is in none of them), and the indexes hold a fraction of the
-- rows. The queries state the status as a literal (`filters::in_state!`), as a partial index
-- needs. The access check's index no longer carries the status either.
DROP INDEX pat_requests_org_status_created;
DROP INDEX pat_requests_org_status_owner;
DROP INDEX pat_requests_org_status_last_used;
DROP INDEX pat_requests_status_expires;
DROP INDEX pat_requests_status_created;
CREATE INDEX pat_requests_pending_created ON pat_requests (org_id, created_at, id, repository_selection, token_last_used_at)
    WHERE status = 'pending';
CREATE INDEX pat_requests_pending_owner ON pat_requests (org_id, owner_id, created_at, id)
    WHERE status = 'pending';
CREATE INDEX pat_requests_pending_last_used ON pat_requests (org_id, token_last_used_at)
    WHERE status = 'pending';
CREATE INDEX pat_requests_pending_expires ON pat_requests (token_expires_at)
    WHERE status = 'pending';
CREATE INDEX pat_requests_pending_since ON pat_requests (created_at)
    WHERE status = 'pending';

DROP INDEX pat_grants_org_status_granted;
DROP INDEX pat_grants_org_status_owner;
DROP INDEX pat_grants_org_status_last_used;
DROP INDEX pat_grants_status_expires;
DROP INDEX pat_grants_org_token;
CREATE INDEX pat_grants_active_granted ON pat_grants (org_id, access_granted_at, id, repository_selection, token_last_used_at)
    WHERE status = 'active';
CREATE INDEX pat_grants_active_owner ON pat_grants (org_id, owner_id, access_granted_at, id)
    WHERE status = 'active';
CREATE INDEX pat_grants_active_last_used ON pat_grants (org_id, token_last_used_at)
    WHERE status = 'active';
CREATE INDEX pat_grants_active_expires ON pat_grants (token_expires_at)
    WHERE status = 'active';
CREATE INDEX pat_grants_org_token ON pat_grants (org_id, token_id, id);

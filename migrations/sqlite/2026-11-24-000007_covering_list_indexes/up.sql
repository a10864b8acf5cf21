-- The lists walk an organization's rows in order through these indexes. The repository and
-- last-use filters also read each walked row's `repository_selection` or
-- `token_last_used_at`: carried in the index (as trailing columns: SQLite has no INCLUDE), the
-- walk reads no table row.
DROP INDEX pat_requests_org_status_created;
CREATE INDEX pat_requests_org_status_created
    ON pat_requests (org_id, status, created_at, id, repository_selection, token_last_used_at);
DROP INDEX pat_grants_org_status_granted;
CREATE INDEX pat_grants_org_status_granted
    ON pat_grants (org_id, status, access_granted_at, id, repository_selection, token_last_used_at);

DROP INDEX pat_grants_org_status_granted;
CREATE INDEX pat_grants_org_status_granted ON pat_grants (org_id, status, access_granted_at, id);
DROP INDEX pat_requests_org_status_created;
CREATE INDEX pat_requests_org_status_created ON pat_requests (org_id, status, created_at, id);

-- Going back restores the triggers of 000005 as they were, for a server from before 000018,
-- which relies on them to announce its writes. They only notify followers of a change (no
-- routing, no rows written, no other side effect); routing stays in Rust (000017). No new
-- trigger is introduced by this migration.
CREATE FUNCTION patgate_notify_request_org() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    request bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        request := OLD.request_id;
    ELSE
        request := NEW.request_id;
    END IF;
    PERFORM pg_notify('patgate_changes', org_id::text) FROM pat_requests WHERE id = request;
    RETURN NULL;
END $$;

CREATE TRIGGER pat_requests_changed AFTER INSERT OR UPDATE OR DELETE ON pat_requests
    FOR EACH ROW EXECUTE FUNCTION patgate_notify_org();
CREATE TRIGGER pat_grants_changed AFTER INSERT OR UPDATE OR DELETE ON pat_grants
    FOR EACH ROW EXECUTE FUNCTION patgate_notify_org();
CREATE TRIGGER pat_request_permissions_changed AFTER INSERT OR UPDATE OR DELETE ON pat_request_permissions
    FOR EACH ROW EXECUTE FUNCTION patgate_notify_org();
CREATE TRIGGER pat_request_repositories_changed AFTER INSERT OR UPDATE OR DELETE ON pat_request_repositories
    FOR EACH ROW EXECUTE FUNCTION patgate_notify_request_org();

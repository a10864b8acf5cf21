-- Every committed write that changes what the API shows notifies channel `patgate_changes`
-- with the organization's id (or `*` when it may touch any organization), so that each
-- instance drops the responses it keeps in memory for that organization. PostgreSQL sends
-- notifications at commit, never for a rolled-back transaction, and sends a payload repeated
-- within one transaction once.

CREATE FUNCTION patgate_notify_org() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('patgate_changes', OLD.org_id::text);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('patgate_changes', NEW.org_id::text);
    END IF;
    RETURN NULL;
END $$;

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

CREATE FUNCTION patgate_notify_token_orgs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    token bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        token := OLD.id;
    ELSE
        token := NEW.id;
    END IF;
    PERFORM pg_notify('patgate_changes', org_id::text)
        FROM (SELECT DISTINCT org_id FROM pat_requests WHERE token_id = token) AS asked;
    RETURN NULL;
END $$;

CREATE FUNCTION patgate_notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('patgate_changes', '*');
    RETURN NULL;
END $$;

CREATE TRIGGER pat_requests_changed AFTER INSERT OR UPDATE OR DELETE ON pat_requests
    FOR EACH ROW EXECUTE FUNCTION patgate_notify_org();
CREATE TRIGGER pat_grants_changed AFTER INSERT OR UPDATE OR DELETE ON pat_grants
    FOR EACH ROW EXECUTE FUNCTION patgate_notify_org();
CREATE TRIGGER pat_request_permissions_changed AFTER INSERT OR UPDATE OR DELETE ON pat_request_permissions
    FOR EACH ROW EXECUTE FUNCTION patgate_notify_org();
CREATE TRIGGER repositories_changed AFTER INSERT OR UPDATE OR DELETE ON repositories
    FOR EACH ROW EXECUTE FUNCTION patgate_notify_org();
CREATE TRIGGER pat_request_repositories_changed AFTER INSERT OR UPDATE OR DELETE ON pat_request_repositories
    FOR EACH ROW EXECUTE FUNCTION patgate_notify_request_org();
CREATE TRIGGER tokens_changed AFTER UPDATE OR DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION patgate_notify_token_orgs();

-- Owners, organizations, enterprises and policies are read by many organizations' answers.
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION patgate_notify_all();
CREATE TRIGGER organizations_changed AFTER UPDATE OR DELETE OR TRUNCATE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION patgate_notify_all();
CREATE TRIGGER enterprises_changed AFTER UPDATE OR DELETE OR TRUNCATE ON enterprises
    FOR EACH STATEMENT EXECUTE FUNCTION patgate_notify_all();
CREATE TRIGGER token_policies_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON token_policies
    FOR EACH STATEMENT EXECUTE FUNCTION patgate_notify_all();
CREATE TRIGGER pat_requests_truncated AFTER TRUNCATE ON pat_requests
    FOR EACH STATEMENT EXECUTE FUNCTION patgate_notify_all();
CREATE TRIGGER pat_grants_truncated AFTER TRUNCATE ON pat_grants
    FOR EACH STATEMENT EXECUTE FUNCTION patgate_notify_all();

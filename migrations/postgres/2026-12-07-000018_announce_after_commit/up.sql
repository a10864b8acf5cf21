-- The tables every review, revocation and filing writes no longer notify from row triggers
-- inside the commit: the server announces each committed write itself, once, right after its
-- commit (crates/persistence/src/db.rs, `Db::write`). A notification sent inside a transaction
-- holds a cluster-wide lock across that transaction's WAL flush, so notifying commits could
-- not share a flush; and a bulk review fired a trigger per row. Rarely written tables keep
-- their triggers (users, organizations, enterprises, policies, repositories, tokens).
-- Writes to these four tables made outside patgate are therefore not announced.
-- PostgreSQL only: SQLite never had these triggers (migration 000005 exists for PostgreSQL
-- alone); SQLite's followers read `PRAGMA data_version`, which moves on every commit of any
-- connection, so there is nothing to drop there.
DROP TRIGGER pat_requests_changed ON pat_requests;
DROP TRIGGER pat_grants_changed ON pat_grants;
DROP TRIGGER pat_request_permissions_changed ON pat_request_permissions;
DROP TRIGGER pat_request_repositories_changed ON pat_request_repositories;
DROP FUNCTION patgate_notify_request_org();

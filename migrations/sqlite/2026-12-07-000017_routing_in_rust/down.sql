-- Not reversible. Routing moved from triggers to the server (crates/persistence/src/routing.rs):
-- a server from before this migration needs the triggers of migrations …000011_org_webhooks
-- and …000012_notification_settings back, and one from after it must not have them (it would
-- queue every event twice). Go back by restoring a backup taken before this migration.
-- SQLite raises only inside a trigger: a temporary one refuses, with the reason.
CREATE TEMP TABLE revert_refused (why TEXT);
CREATE TEMP TRIGGER revert_refused_raise BEFORE INSERT ON revert_refused
BEGIN
    SELECT RAISE(ABORT, 'migration 2026-12-07-000017_routing_in_rust is not reversible: restore a backup taken before it');
END;
INSERT INTO revert_refused VALUES ('');

-- Not reversible. Routing moved from triggers to the server (crates/persistence/src/routing.rs):
-- a server from before this migration needs the triggers of migrations …000011_org_webhooks
-- and …000012_notification_settings back, and one from after it must not have them (it would
-- queue every event twice). Go back by restoring a backup taken before this migration.
DO $$
BEGIN
    RAISE EXCEPTION 'migration 2026-12-07-000017_routing_in_rust is not reversible: restore a backup taken before it';
END $$;

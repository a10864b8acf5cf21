-- Not reversible, like …000017_routing_in_rust before it. A server from before this migration
-- relies on row triggers to announce its writes to other instances; this project keeps what a
-- change causes in Rust (Db::write announces after its commit), not in SQL triggers, so going
-- back does not recreate them. Go back by restoring a backup taken before …000017.
DO $$
BEGIN
    RAISE EXCEPTION 'migration 2026-12-07-000018_announce_after_commit is not reversible: restore a backup taken before 2026-12-07-000017_routing_in_rust';
END $$;

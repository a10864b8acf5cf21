-- Who hears of a change (webhook deliveries, owners' e-mails) is decided in Rust, in the
-- change's transaction (crates/persistence/src/routing.rs); the triggers that did it go.
DROP TRIGGER audit_events_webhooks ON audit_events;
DROP TRIGGER audit_events_notifications ON audit_events;
DROP FUNCTION patgate_enqueue_webhooks();
DROP FUNCTION patgate_enqueue_notifications();

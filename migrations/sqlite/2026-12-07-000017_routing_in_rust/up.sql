-- Who hears of a change (webhook deliveries, owners' e-mails) is decided in Rust, in the
-- change's transaction (crates/persistence/src/routing.rs); the triggers that did it go.
DROP TRIGGER audit_events_webhooks;
DROP TRIGGER audit_events_org_webhooks;
DROP TRIGGER audit_events_notifications;

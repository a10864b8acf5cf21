DROP TRIGGER audit_events_webhooks ON audit_events;
DROP FUNCTION patgate_enqueue_webhooks();
DROP TABLE webhook_deliveries;
DROP TABLE app_webhooks;

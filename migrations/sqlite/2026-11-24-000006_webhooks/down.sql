DROP TRIGGER audit_events_webhooks;
DROP TABLE webhook_deliveries;
DROP TABLE app_webhooks;

DROP TRIGGER audit_events_notifications ON audit_events;
DROP FUNCTION patgate_enqueue_notifications();
DROP TABLE digest_runs;
DROP TABLE notifications;
DROP TABLE organization_owners;

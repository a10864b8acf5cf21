DROP TRIGGER audit_events_notifications;
DROP TABLE digest_runs;
DROP TABLE notifications;
DROP TABLE organization_owners;

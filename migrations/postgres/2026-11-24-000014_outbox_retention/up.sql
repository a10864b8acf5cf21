-- The retention sweep deletes the rows done with (delivered, failed, sent, skipped) that were
-- queued before the retention period, oldest first: these partial indexes find them without
-- reading the rows still to send.
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (created_at) WHERE status <> 'pending';
CREATE INDEX notifications_done ON notifications (created_at) WHERE status <> 'pending';

-- The backlogs count what failed for good, per app, per organization hook and per
-- organization: these partial indexes hold the failed rows only, so a count reads those
-- rather than the whole history of delivered and sent rows.
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (id) WHERE status = 'failed';
CREATE INDEX webhook_deliveries_app_failed ON webhook_deliveries (app_id) WHERE status = 'failed';
CREATE INDEX webhook_deliveries_hook_failed ON webhook_deliveries (hook_id) WHERE status = 'failed';
CREATE INDEX notifications_org_failed ON notifications (org_id) WHERE status = 'failed';

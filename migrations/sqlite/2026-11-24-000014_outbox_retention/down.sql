DROP INDEX notifications_done;
DROP INDEX webhook_deliveries_done;

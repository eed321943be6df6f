-- Webhook signing secrets are derived from the relay key and a per-hook salt: the database holds
-- no secret that could sign a delivery.
ALTER TABLE webhooks RENAME COLUMN secret_hash TO secret_salt;
ALTER TABLE webhook_deliveries ADD COLUMN action TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN last_status INTEGER;
ALTER TABLE webhook_deliveries ADD COLUMN last_error TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN failed_at INTEGER;
CREATE INDEX webhooks_org ON webhooks(org_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);

DROP TABLE webhook_deliveries;
DROP TABLE webhook_outbox;
DROP TABLE webhook_endpoints;
DROP TABLE alerts;
DROP TABLE alert_consumer;
DROP TABLE watch_keys;
DROP TABLE watch_entries;

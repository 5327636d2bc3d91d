-- (PostgreSQL) Idempotency keys of batch writes: a retried request with the same key
-- and the same body gets the first answer again instead of a second write.
CREATE TABLE idempotency_keys (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    record_ids TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organization_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

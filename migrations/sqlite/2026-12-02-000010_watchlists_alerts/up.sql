-- (SQLite) Watchlists, alerts and signed webhook deliveries (issue 13).
-- Nothing existing is changed.
--
-- Watched addresses are never stored in the clear: an entry is known by the
-- keyed hash (HMAC-SHA256, the alerts watch key) of its link keys, each link
-- key by its own keyed hash, and the address as typed with the partner's
-- label is sealed (ChaCha20-Poly1305, same key) for its owner to list.
CREATE TABLE watch_entries (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    entry_hash TEXT NOT NULL,
    sealed TEXT NOT NULL,
    -- Changes up to this feed position were stored before the entry: they never alert.
    after_seq BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organization_id, entry_hash)
);

CREATE TABLE watch_keys (
    key_hash TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    after_seq BIGINT NOT NULL,
    PRIMARY KEY (key_hash, organization_id, entry_hash)
);
CREATE INDEX watch_keys_by_entry ON watch_keys (organization_id, entry_hash);

-- The change-feed consumer's position: advanced in the transaction that
-- writes the alerts of the changes up to it. Starts at the current head.
CREATE TABLE alert_consumer (
    id INTEGER PRIMARY KEY NOT NULL,
    position BIGINT NOT NULL
);
INSERT INTO alert_consumer (id, position) SELECT 1, seq FROM feed_head WHERE id = 1;

-- One alert per watcher and change. The alert as its watcher sees it is
-- sealed (it names the watched address); record_hash is the keyed hash of
-- the record it is about (to alert on its revocation).
CREATE TABLE alerts (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    change_seq BIGINT NOT NULL,
    record_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    sealed TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    acknowledged_at TIMESTAMP,
    UNIQUE (organization_id, change_seq)
);
CREATE INDEX alerts_by_record ON alerts (organization_id, record_hash);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- whsec_ secrets, sealed.
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_valid_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP,
    disabled_reason TEXT,
    -- Since when the head of its queue has failed (NULL when healthy).
    failing_since TIMESTAMP,
    -- The server delivering to it holds it until then.
    lease_until TIMESTAMP
);
CREATE INDEX webhook_endpoints_by_org ON webhook_endpoints (organization_id);

-- Alerts waiting for delivery, delivered in change order per endpoint.
CREATE TABLE webhook_outbox (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    change_seq BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (endpoint_id, alert_id)
);
CREATE INDEX webhook_outbox_order ON webhook_outbox (endpoint_id, change_seq);

-- Every delivery attempt: for the endpoint's owner.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    alert_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    status_code INTEGER,
    error TEXT,
    latency_ms BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);

-- The partitioning experiment of docs/scaling-plan.md: the lookup query on
-- an unpartitioned copy of `records` and on a copy hash-partitioned by
-- link key (16 partitions), each holding the same :rows synthetic rows
-- shaped like tracewire's (ETH address records, ~640-byte body).
-- psql -v rows=10000000 -d tracewire_plan -f docs/scaling/partition-experiment.sql
\timing on
DROP TABLE IF EXISTS records_flat, records_hashed;
CREATE TABLE records_flat (
    id TEXT NOT NULL, kind TEXT NOT NULL, source_org TEXT NOT NULL,
    revision INTEGER NOT NULL, tlp TEXT NOT NULL, all_partners BOOLEAN NOT NULL,
    attribution TEXT NOT NULL, revoked BOOLEAN NOT NULL, chain TEXT,
    link_key TEXT, search_text TEXT NOT NULL, categories TEXT NOT NULL,
    body TEXT NOT NULL, content_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL,
    screen_bucket INTEGER
);
CREATE TABLE records_hashed (LIKE records_flat) PARTITION BY HASH (link_key);
SELECT format('CREATE TABLE records_hashed_%s PARTITION OF records_hashed FOR VALUES WITH (MODULUS 16, REMAINDER %s)', r, r)
FROM generate_series(0, 15) r \gexec

INSERT INTO records_flat
SELECT md5(i::text || 'id')::uuid::text, 'address', 'acme-forensics', 1, 'green', true, 'named', false, 'eth',
       'evm:' || h, '0x' || h || ' darknet market blockchain_analysis', '|darknet_market|',
       '{"kind":"address","chain":"eth","address":"0x' || h || '","categories":["darknet_market"],"confidence":70,"tlp":"green","method":"blockchain_analysis","source_reference":"synthetic","description":"' || repeat('x', 420) || '"}',
       md5(i::text || 'a') || md5(i::text || 'b'), now(), now(), i % 1048576
FROM (SELECT i, substr(md5(i::text) || md5(i::text || 'x'), 1, 40) AS h FROM generate_series(1, :rows) i) s;
INSERT INTO records_hashed SELECT * FROM records_flat;

-- The indexes the lookup and get-by-id paths use (the partitioned table
-- cannot have a primary key on id alone: it must include link_key).
ALTER TABLE records_flat ADD PRIMARY KEY (id);
CREATE INDEX records_flat_link_key ON records_flat (link_key);
ALTER TABLE records_hashed ADD PRIMARY KEY (link_key, id);
CREATE INDEX records_hashed_id ON records_hashed (id);
CREATE INDEX records_hashed_link_key ON records_hashed (link_key);
ANALYZE records_flat;
ANALYZE records_hashed;
SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class WHERE relname IN ('records_flat', 'records_hashed_0');
-- The audience the visibility filter consults (the synthetic records are
-- GREEN for all partners, so it stays empty, as for such records).
CREATE TABLE IF NOT EXISTS record_audience_exp (
    record_id TEXT NOT NULL, member_kind TEXT NOT NULL, member TEXT NOT NULL,
    PRIMARY KEY (record_id, member_kind, member)
);
CREATE INDEX IF NOT EXISTS record_audience_exp_member ON record_audience_exp (member_kind, member);
ANALYZE record_audience_exp;

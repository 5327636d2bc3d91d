-- Private (k-anonymous) screening: the bucket of each record's link key,
-- the first 20 bits of SHA-256("tracewire-private-screening-v1:" || link_key)
-- (see src/domain/private_screening.rs). Rows written before this migration
-- get theirs from `storage::records::fill_screen_buckets`, which runs after
-- the migrations at every start and finds them through the partial index
-- (empty once they are filled: new rows are written with their bucket).
ALTER TABLE records ADD COLUMN screen_bucket INTEGER;
CREATE INDEX records_screen_bucket ON records(screen_bucket);
CREATE INDEX records_screen_bucket_missing ON records(id)
    WHERE screen_bucket IS NULL AND link_key IS NOT NULL;

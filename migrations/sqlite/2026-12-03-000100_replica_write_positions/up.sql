-- (sqlite) Read-your-writes with read replicas: the primary's WAL position
-- after each organization's last API write (src/storage/replicas.rs).
-- A read is served by a replica only once the replica has replayed past the
-- reader's position; every server behind the same primary reads it here.
-- Unused on SQLite (no replicas), kept so both schemas stay alike.
CREATE TABLE write_positions (
    organization_id TEXT PRIMARY KEY NOT NULL,
    lsn BIGINT NOT NULL
);

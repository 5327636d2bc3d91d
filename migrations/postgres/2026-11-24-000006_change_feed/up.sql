-- (PostgreSQL) The change feed: one row per new revision, revocation or sighting.
-- `seq` is handed out from feed_head inside the writing transaction, which
-- holds feed_head's row lock (PostgreSQL) or the database write lock
-- (SQLite) until it commits. So sequence numbers become visible in order
-- and without gaps, and a reader following `seq` never skips an event.
CREATE TABLE feed_head (
    id INTEGER PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL
);
INSERT INTO feed_head (id, seq) VALUES (1, 0);

CREATE TABLE changes (
    seq BIGINT PRIMARY KEY NOT NULL,
    record_id TEXT NOT NULL REFERENCES records(id),
    revision INTEGER NOT NULL,
    event TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);

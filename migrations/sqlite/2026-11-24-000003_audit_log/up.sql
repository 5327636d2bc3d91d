-- Append-only audit log, hash-chained: each entry's hash covers the
-- previous entry's hash, so any change to a past entry is detectable.
-- audit_head holds the chain's tip; updating it first serializes appends.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    organization TEXT NOT NULL,
    client TEXT NOT NULL,
    action TEXT NOT NULL,
    record_ids TEXT NOT NULL,
    result_count BIGINT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

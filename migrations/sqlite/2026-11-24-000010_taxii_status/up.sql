-- (SQLite) TAXII 2.1 status resources: the outcome of each envelope POSTed to a
-- collection, readable by the posting organization only. Numbered 000010 to
-- leave room for migrations landing in parallel.
CREATE TABLE taxii_statuses (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    created_at TIMESTAMP NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX taxii_statuses_created ON taxii_statuses(created_at);
-- An object's versions are read from the changes of its record.
CREATE INDEX changes_record ON changes(record_id, seq);

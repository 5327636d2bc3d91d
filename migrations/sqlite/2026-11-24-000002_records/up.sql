-- Intelligence records: the current state of each record, its audience, and every revision.
CREATE TABLE records (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    source_org TEXT NOT NULL REFERENCES organizations(id),
    revision INTEGER NOT NULL,
    tlp TEXT NOT NULL,
    all_partners BOOLEAN NOT NULL,
    attribution TEXT NOT NULL,
    revoked BOOLEAN NOT NULL,
    chain TEXT,
    link_key TEXT,
    search_text TEXT NOT NULL,
    categories TEXT NOT NULL,
    body TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX records_link_key ON records(link_key);
CREATE INDEX records_source ON records(source_org, id);
CREATE INDEX records_updated ON records(updated_at);

CREATE TABLE record_audience (
    record_id TEXT NOT NULL REFERENCES records(id),
    member_kind TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (record_id, member_kind, member)
);
CREATE INDEX record_audience_member ON record_audience(member_kind, member);

CREATE TABLE record_revisions (
    record_id TEXT NOT NULL REFERENCES records(id),
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (record_id, revision)
);

-- The two ends of every relationship record, for walking the graph.
CREATE TABLE record_links (
    relationship_id TEXT PRIMARY KEY NOT NULL REFERENCES records(id),
    relation TEXT NOT NULL,
    from_id TEXT NOT NULL REFERENCES records(id),
    to_id TEXT NOT NULL REFERENCES records(id)
);
CREATE INDEX record_links_from ON record_links(from_id);
CREATE INDEX record_links_to ON record_links(to_id);

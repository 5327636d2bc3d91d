-- (SQLite) Which record each imported STIX object became, per importing
-- organization, with the object's version (its `modified`): a re-posted
-- identical object changes nothing, a newer version becomes a new revision
-- of the same record, and later envelopes may refer to objects of earlier ones.
CREATE TABLE stix_imports (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    stix_id TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES records(id),
    version TEXT NOT NULL,
    PRIMARY KEY (organization_id, stix_id)
);

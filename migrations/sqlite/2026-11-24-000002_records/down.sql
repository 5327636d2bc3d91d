DROP TABLE record_revisions;
DROP TABLE record_audience;
DROP TABLE records;

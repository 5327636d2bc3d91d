DROP TABLE taxii_statuses;
DROP INDEX changes_record;

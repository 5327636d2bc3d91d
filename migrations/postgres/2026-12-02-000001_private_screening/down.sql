DROP INDEX records_screen_bucket_missing;
DROP INDEX records_screen_bucket;
ALTER TABLE records DROP COLUMN screen_bucket;

-- PostgreSQL's own COPY floor for the rows `tracewire bench ingest` wrote
-- (issue 12 item 3): the ingested records, their revisions, audiences,
-- change-feed entries, idempotency keys and audit entries are copied out
-- to files, then COPYed into empty copies of the same tables (same
-- columns, defaults, primary keys, indexes and the foreign keys between
-- them) in one transaction, timed. That is what the schema allows before
-- any of tracewire's own work.
--   psql -d DB -v dir=/tmp/tw-floor -f docs/scaling/copy-floor.sql   (DIR writable by the postgres user)
\set ON_ERROR_STOP 1
\timing on
DROP SCHEMA IF EXISTS floor CASCADE;
CREATE SCHEMA floor;
\o /dev/null
SELECT format('COPY (SELECT * FROM %I) TO %L', t, :'dir' || '/' || t || '.copy')
FROM unnest(ARRAY['records', 'record_revisions', 'record_audience', 'changes', 'idempotency_keys', 'audit_log']) t \gexec
\o
CREATE TABLE floor.records (LIKE public.records INCLUDING ALL);
CREATE TABLE floor.record_revisions (LIKE public.record_revisions INCLUDING ALL);
CREATE TABLE floor.record_audience (LIKE public.record_audience INCLUDING ALL);
CREATE TABLE floor.changes (LIKE public.changes INCLUDING ALL);
CREATE TABLE floor.idempotency_keys (LIKE public.idempotency_keys INCLUDING ALL);
CREATE TABLE floor.audit_log (LIKE public.audit_log INCLUDING ALL);
ALTER TABLE floor.records ADD FOREIGN KEY (source_org) REFERENCES public.organizations(id);
ALTER TABLE floor.record_revisions ADD FOREIGN KEY (record_id) REFERENCES floor.records(id);
ALTER TABLE floor.record_audience ADD FOREIGN KEY (record_id) REFERENCES floor.records(id);
ALTER TABLE floor.changes ADD FOREIGN KEY (record_id) REFERENCES floor.records(id);
ALTER TABLE floor.idempotency_keys ADD FOREIGN KEY (organization_id) REFERENCES public.organizations(id);
CHECKPOINT;
\echo == the COPY floor: every table, one transaction
SELECT clock_timestamp() AS started \gset
BEGIN;
SELECT format('COPY floor.%I FROM %L', t, :'dir' || '/' || t || '.copy')
FROM unnest(ARRAY['records', 'record_revisions', 'record_audience', 'changes', 'idempotency_keys', 'audit_log']) t \gexec
COMMIT;
SELECT round(extract(epoch FROM clock_timestamp() - :'started'::timestamptz)::numeric, 1) AS "COPY floor, seconds";
SELECT (SELECT count(*) FROM floor.records) AS records, (SELECT count(*) FROM floor.record_revisions) AS revisions,
       (SELECT count(*) FROM floor.changes) AS changes, (SELECT count(*) FROM floor.audit_log) AS audit_entries;
DROP SCHEMA floor CASCADE;

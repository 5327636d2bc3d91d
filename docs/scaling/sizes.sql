-- Sizes per table, per index and per column on a tracewire database after
-- `tracewire bench ingest` (docs/scaling-plan.md).
--   psql -d DB -f docs/scaling/sizes.sql
\pset footer off
CREATE EXTENSION IF NOT EXISTS pageinspect;
ANALYZE;
\echo == tables: rows, heap, TOAST, indexes, total, bytes per row
SELECT c.relname AS "table", c.reltuples::bigint AS "rows",
       pg_relation_size(c.oid) AS heap,
       coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast,
       pg_indexes_size(c.oid) AS indexes,
       pg_total_relation_size(c.oid) AS total,
       round(pg_total_relation_size(c.oid)::numeric / nullif(c.reltuples, 0)::numeric) AS "total/row"
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.reltuples > 1000
  AND c.relname NOT LIKE '%\_exp' AND c.relname NOT LIKE 'records\_flat%' AND c.relname NOT LIKE 'records\_hashed%'
ORDER BY total DESC;
\echo == indexes: size, bytes per row, B-tree depth (bt_metap level: 0 = root is a leaf)
SELECT i.indexrelid::regclass AS "index", t.relname AS "table",
       pg_relation_size(i.indexrelid) AS bytes,
       round(pg_relation_size(i.indexrelid)::numeric / nullif(t.reltuples, 0)::numeric, 1) AS "bytes/row",
       (SELECT level FROM bt_metap(i.indexrelid::regclass::text)) AS level
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
WHERE n.nspname = 'public' AND t.reltuples > 1000 AND am.amname = 'btree'
  AND t.relname NOT LIKE '%\_exp' AND t.relname NOT LIKE 'records\_flat%' AND t.relname NOT LIKE 'records\_hashed%'
ORDER BY bytes DESC;
\echo == records: average stored bytes per column (pg_column_size)
SELECT round(avg(pg_column_size(id)), 1) AS id, round(avg(pg_column_size(kind)), 1) AS kind,
       round(avg(pg_column_size(source_org)), 1) AS source_org, round(avg(pg_column_size(tlp)), 1) AS tlp,
       round(avg(pg_column_size(chain)), 1) AS chain, round(avg(pg_column_size(link_key)), 1) AS link_key,
       round(avg(pg_column_size(search_text)), 1) AS search_text, round(avg(pg_column_size(categories)), 1) AS categories,
       round(avg(pg_column_size(body)), 1) AS body, round(avg(octet_length(body)), 1) AS body_chars,
       round(avg(pg_column_size(content_hash)), 1) AS content_hash,
       round(avg(pg_column_size(r.*)), 1) AS whole_row
FROM records r;
\echo == record_revisions, changes, audit_log, idempotency_keys: average bytes per row (pg_column_size of the row)
SELECT 'record_revisions' AS "table", round(avg(pg_column_size(x.*)), 1) AS row_bytes, round(avg(pg_column_size(body)), 1) AS body FROM record_revisions x
UNION ALL SELECT 'changes', round(avg(pg_column_size(x.*)), 1), NULL FROM changes x
UNION ALL SELECT 'audit_log', round(avg(pg_column_size(x.*)), 1), round(avg(pg_column_size(record_ids)), 1) FROM audit_log x
UNION ALL SELECT 'idempotency_keys', round(avg(pg_column_size(x.*)), 1), round(avg(pg_column_size(record_ids)), 1) FROM idempotency_keys x;
\echo == audit entries: by action (count, average bytes)
SELECT action, count(*), round(avg(pg_column_size(x.*)), 1) AS row_bytes FROM audit_log x GROUP BY action ORDER BY count(*) DESC LIMIT 8;

#!/usr/bin/env bash
# Median and p99 of the lookup query's planning + execution time (EXPLAIN
# ANALYZE, as PostgreSQL measures it, without network or client) on TABLE, for N link
# keys sampled from it (hits) and N keys that are not in it (misses),
# after one warm-up pass over the same keys.
#   docs/scaling/lookup-latency.sh DATABASE_URL TABLE AUDIENCE_TABLE [N]
set -euo pipefail
URL=$1 TABLE=$2 AUDIENCE=$3 N=${4:-500}
keys=$(psql "$URL" -AtXc "SELECT link_key FROM $TABLE TABLESAMPLE SYSTEM (0.1) REPEATABLE (42) LIMIT $N")
misses=$(for i in $(seq 1 "$N"); do printf 'evm:%040x\n' "$((i * 7919))"; done)
# The query tracewire's lookup sends (src/storage/records.rs, visible_in_chunks),
# with a partner's visibility filter as the server writes it.
query() {
  cat <<SQL
EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) SELECT * FROM $TABLE
WHERE (source_org = 'northwind-exchange' OR tlp = 'clear' OR (tlp = 'green' AND all_partners = true)
       OR id IN (SELECT record_id FROM $AUDIENCE WHERE (member_kind = 'organization' AND member = 'northwind-exchange')
                 OR (member_kind = 'community' AND member IN ('anti-trafficking'))))
  AND link_key IN ('$1') AND kind IN ('address', 'sighting') AND revoked = false
ORDER BY id;
SQL
}
run() { # run KEYS -> planning + execution time in ms, one a line per query
  while read -r k; do query "$k"; done <<<"$1" | psql "$URL" -AtX |
    awk '/^Planning Time:/ { p = $3 } /^Execution Time:/ { print p + $3 }'
}
# A record by id (GET /v1/records/{id}): on the table partitioned by link
# key, every partition's id index is probed.
by_id() {
  psql "$URL" -AtXc "SELECT id FROM $TABLE TABLESAMPLE SYSTEM (0.1) REPEATABLE (7) LIMIT $N" |
    while read -r id; do echo "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) SELECT * FROM $TABLE WHERE id = '$id';"; done |
    psql "$URL" -AtX | awk '/^Planning Time:/ { p = $3 } /^Execution Time:/ { print p + $3 }'
}
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %.3f ms, p99 %.3f ms (n=%d)", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.5)], NR }'; }
run "$keys" >/dev/null
run "$misses" >/dev/null
echo "$TABLE hits:   $(run "$keys" | stats)"
echo "$TABLE misses: $(run "$misses" | stats)"
by_id >/dev/null
echo "$TABLE by id:  $(by_id | stats)"

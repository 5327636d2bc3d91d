#!/usr/bin/env bash
# Scale-out on one machine, shown rather than claimed (issue 12, item 6).
#
#   deploy/scale-out/run.sh quick   # CI: small data, the failover check; about a minute
#   deploy/scale-out/run.sh full    # the figures for BENCHMARKS.md (1,843,907 addresses)
#
# Starts, on loopback, under a fresh work directory:
#   * a PostgreSQL primary of its own (initdb, port $SCALEOUT_PG_PORT, 5434)
#     and a streaming replica of it (pg_basebackup -R, port $SCALEOUT_REPLICA_PORT, 5435);
#   * two tracewire servers (the release binary) on that primary, set up by
#     `tracewire demo --setup-only` (certificates, organizations, clients);
#   * haproxy in TCP mode in front of them (TLS passes through: each server
#     terminates mutual TLS itself), health-checking each server's
#     operations listener (GET /readyz).
# Then it runs `tracewire bench ingest|lookup|screen` through haproxy (full
# mode: and directly against one server, the baseline of the same run),
# kills one server with SIGKILL under load (failover.py: writes with an
# Idempotency-Key and lookups; the failed requests must be exactly those on
# the killed server's connections, a retry with the same key completes them,
# and every write is stored exactly once), starts it again and checks that
# haproxy takes it back. Everything it started is stopped and its work
# directory removed on exit (SCALEOUT_KEEP=1 keeps the directory).
# Exits non-zero when any step or check fails.
set -euo pipefail

MODE="${1:-quick}"
case "$MODE" in quick | full) ;; *)
  echo "usage: $0 quick|full" >&2
  exit 2
  ;;
esac

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BIN="${TRACEWIRE_BIN:-$REPO/target/release/tracewire}"
PG_PORT="${SCALEOUT_PG_PORT:-5434}"
REPLICA_PORT="${SCALEOUT_REPLICA_PORT:-5435}"
LB_PORT="${SCALEOUT_LB_PORT:-27443}"
STATS_PORT="${SCALEOUT_STATS_PORT:-27404}"
API_PORTS=("${SCALEOUT_API1_PORT:-27441}" "${SCALEOUT_API2_PORT:-27442}")
OPS_PORTS=("${SCALEOUT_OPS1_PORT:-27491}" "${SCALEOUT_OPS2_PORT:-27492}")
PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}"

need() { command -v "$1" >/dev/null || {
  echo "FATAL: $1 is not installed ($2)" >&2
  exit 1
}; }
need haproxy "apt-get install haproxy"
need python3 "apt-get install python3"
need psql "apt-get install postgresql-client"
need curl "apt-get install curl"
[ -x "$PGBIN/initdb" ] || {
  echo "FATAL: no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin" >&2
  exit 1
}
[ -x "$BIN" ] || {
  echo "FATAL: $BIN is missing: cargo build --release (or set TRACEWIRE_BIN)" >&2
  exit 1
}
for port in "$PG_PORT" "$REPLICA_PORT" "$LB_PORT" "$STATS_PORT" "${API_PORTS[@]}" "${OPS_PORTS[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "FATAL: port $port is in use (another run?); set the SCALEOUT_*_PORT variables" >&2
    exit 1
  fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tracewire-scale-out.XXXXXX")"
chmod 755 "$WORK"
PIDS=()
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  local status=$?
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for dir in "$WORK/replica" "$WORK/primary"; do
    [ -f "$dir/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null 2>&1
  done
  if [ "$status" != 0 ]; then
    echo "== FAILED (status $status); last log lines:" >&2
    for log in "$WORK"/*.log; do
      [ -f "$log" ] && { echo "--- $log" >&2; tail -n 15 "$log" >&2; }
    done
  fi
  if [ "${SCALEOUT_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "== $(date -u +%H:%M:%S) $*"; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2
  shift 2
  for _ in $(seq 1 $((secs * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "FATAL: $what did not happen within $secs s" >&2
  return 1
}

PRIMARY_URL="postgres://postgres@127.0.0.1:$PG_PORT/tracewire"
REPLICA_URL="postgres://postgres@127.0.0.1:$REPLICA_PORT/tracewire"

step "PostgreSQL primary on $PG_PORT (initdb under $WORK/primary)"
mkdir -p "$WORK/primary" "$WORK/sock"
touch "$WORK/primary.log" "$WORK/replica.log"
chown postgres "$WORK/primary" "$WORK/sock" "$WORK/primary.log" "$WORK/replica.log" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$WORK/primary" -U postgres -A trust -E UTF8 >"$WORK/initdb.log"
cat >>"$WORK/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK/sock'
max_connections = 100
wal_level = replica
max_wal_senders = 5
EOF
# initdb's pg_hba.conf with -A trust already admits replication from 127.0.0.1.
as_pg "$PGBIN/pg_ctl" -D "$WORK/primary" -l "$WORK/primary.log" -w start >/dev/null
psql "postgres://postgres@127.0.0.1:$PG_PORT/postgres" -qAtXc "CREATE DATABASE tracewire"

step "streaming replica on $REPLICA_PORT (pg_basebackup -R)"
mkdir -p "$WORK/replica"
chown postgres "$WORK/replica" 2>/dev/null || true
as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres -D "$WORK/replica" -R -X stream -c fast
chmod 700 "$WORK/replica"
as_pg "$PGBIN/pg_ctl" -D "$WORK/replica" -l "$WORK/replica.log" -o "-p $REPLICA_PORT" -w start >/dev/null
streaming() { [ "$(psql "postgres://postgres@127.0.0.1:$PG_PORT/postgres" -qAtXc "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ]; }
wait_for 30 "the replica streaming from the primary" streaming
[ "$(psql "$REPLICA_URL" -qAtXc "SELECT pg_is_in_recovery()")" = t ]

step "tracewire demo --setup-only on the primary (API URL: haproxy on $LB_PORT)"
DEMO="$WORK/demo"
TRACEWIRE_DATABASE__URL="$PRIMARY_URL" "$BIN" demo --dir "$DEMO" \
  --listen "127.0.0.1:$LB_PORT" --ops-listen "127.0.0.1:${OPS_PORTS[0]}" --setup-only >"$WORK/demo-setup.log" 2>&1

SERVER_PIDS=()
start_server() { # start_server INDEX (0 or 1)
  local i=$1
  TRACEWIRE_DATABASE__URL="$PRIMARY_URL" \
    TRACEWIRE_DATABASE__REPLICA_URLS="[\"$REPLICA_URL\"]" \
    TRACEWIRE_API__LISTEN="127.0.0.1:${API_PORTS[$i]}" \
    TRACEWIRE_OPS__LISTEN="127.0.0.1:${OPS_PORTS[$i]}" \
    NO_COLOR=1 "$BIN" --config "$DEMO/tracewire.toml" serve >>"$WORK/server$((i + 1)).log" 2>&1 &
  SERVER_PIDS[$i]=$!
  PIDS+=($!)
}
ready() { curl -fsS "http://127.0.0.1:${OPS_PORTS[$1]}/readyz"; }
step "two tracewire servers: API ${API_PORTS[0]} and ${API_PORTS[1]}, ops ${OPS_PORTS[0]} and ${OPS_PORTS[1]}"
start_server 0
start_server 1
wait_for 30 "server 1 ready" ready 0
wait_for 30 "server 2 ready" ready 1

step "haproxy on $LB_PORT (TCP passthrough, health checks on /readyz), stats on $STATS_PORT"
cat >"$WORK/haproxy.cfg" <<EOF
global
    log stdout format raw local0 info
    maxconn 2000

defaults
    mode tcp
    log global
    # One line per TCP session when it closes: the client's port says which
    # server its requests went to (failover.py matches them).
    log-format "scaleout-session port=%cp accept=%Ts.%ms server=%b/%s state=%ts bytes=%B"
    timeout connect 2s
    timeout client 10m
    timeout server 10m
    # A connection refused by a server that has just died is tried on the other.
    retries 2
    option redispatch 1

frontend api
    bind 127.0.0.1:$LB_PORT
    default_backend tracewire

backend tracewire
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 2
    server s1 127.0.0.1:${API_PORTS[0]} port ${OPS_PORTS[0]}
    server s2 127.0.0.1:${API_PORTS[1]} port ${OPS_PORTS[1]}

listen stats
    mode http
    bind 127.0.0.1:$STATS_PORT
    stats enable
    stats uri /stats
EOF
haproxy -c -q -f "$WORK/haproxy.cfg"
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
server_status() { # server_status NAME -> UP, DOWN, ...
  curl -fsS "http://127.0.0.1:$STATS_PORT/stats;csv" | awk -F, -v s="$1" '$1 == "tracewire" && $2 == s { print $18 }'
}
is_up() { [ "$(server_status "$1")" = UP ]; }
wait_for 20 "haproxy seeing s1 up" is_up s1
wait_for 20 "haproxy seeing s2 up" is_up s2

BENCH_LB=(--demo-dir "$DEMO")
# The same organization straight to server 1, the single-server baseline of
# the same run (demo.json names haproxy's port).
direct_args() { # direct_args ORG
  python3 - "$DEMO/demo.json" "$1" "${API_PORTS[0]}" <<'EOF'
import json, sys
demo = json.load(open(sys.argv[1]))
org = next(o for o in demo["organizations"] if o["id"] == sys.argv[2])
print(f"--url https://localhost:{sys.argv[3]} --ca {demo['ca_cert']} --cert {org['cert']} --key {org['key']} --client-id {org['client_id']}")
EOF
}
# shellcheck disable=SC2207
DIRECT_READER=($(direct_args northwind-exchange))

if [ "${SCALEOUT_BENCH:-1}" = 0 ]; then
  COUNT=1000
  step "benchmarks skipped (SCALEOUT_BENCH=0)"
elif [ "$MODE" = quick ]; then
  COUNT=20000
  step "bench through haproxy: ingest $COUNT, lookups, bulk screening"
  "$BIN" bench ingest "${BENCH_LB[@]}" --demo-org acme-forensics --count "$COUNT"
  "$BIN" bench lookup "${BENCH_LB[@]}" --demo-org northwind-exchange --count "$COUNT" --seconds 3 --connections 16
  "$BIN" bench screen "${BENCH_LB[@]}" --demo-org northwind-exchange --count "$COUNT" --requests 3
else
  COUNT="${SCALEOUT_COUNT:-1843907}"
  RUNS="${SCALEOUT_RUNS:-3}"
  step "bench ingest of $COUNT through haproxy"
  "$BIN" bench ingest "${BENCH_LB[@]}" --demo-org acme-forensics --count "$COUNT"
  step "ANALYZE (autovacuum is off on these machines), replica catch-up"
  psql "$PRIMARY_URL" -qAtXc "ANALYZE"
  psql "postgres://postgres@127.0.0.1:$PG_PORT/postgres" -AtXc \
    "SELECT 'replica replay lag after the ingest: ' || pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)) FROM pg_stat_replication"
  step "sizes per table, index and column (docs/scaling/sizes.sql, for docs/scaling-plan.md)"
  psql "$PRIMARY_URL" -X -f "$REPO/docs/scaling/sizes.sql"
  for run in $(seq 1 "$RUNS"); do
    step "run $run/$RUNS: lookups straight to server 1 (baseline), then through haproxy (both servers)"
    "$BIN" bench lookup "${DIRECT_READER[@]}" --count "$COUNT" --seconds "${SCALEOUT_SECONDS:-15}" | sed 's/^/direct  /'
    "$BIN" bench lookup "${BENCH_LB[@]}" --demo-org northwind-exchange --count "$COUNT" --seconds "${SCALEOUT_SECONDS:-15}" | sed 's/^/haproxy /'
    step "run $run/$RUNS: bulk screening straight to server 1, then through haproxy"
    "$BIN" bench screen "${DIRECT_READER[@]}" --count "$COUNT" --requests "${SCALEOUT_SCREENS:-15}" | sed 's/^/direct  /'
    "$BIN" bench screen "${BENCH_LB[@]}" --demo-org northwind-exchange --count "$COUNT" --requests "${SCALEOUT_SCREENS:-15}" | sed 's/^/haproxy /'
  done
fi

step "SIGKILL server 2 under load (writes with Idempotency-Key, lookups), through haproxy"
if [ "$MODE" = quick ]; then FAILOVER=(--before 3 --after 4); else FAILOVER=(--before 10 --after 10); fi
python3 "$HERE/failover.py" --demo-dir "$DEMO" --kill-pid "${SERVER_PIDS[1]}" --kill-server tracewire/s2 \
  --haproxy-log "$WORK/haproxy.log" --database-url "$PRIMARY_URL" "${FAILOVER[@]}" --out "$WORK/failover.json"
wait_for 10 "haproxy marking s2 down" bash -c "[ \"\$(curl -fsS 'http://127.0.0.1:$STATS_PORT/stats;csv' | awk -F, '\$2 == \"s2\" {print \$18}')\" != UP ]"
echo "haproxy: s2 is $(server_status s2), s1 is $(server_status s1)"

step "server 2 starts again; haproxy takes it back"
start_server 1
wait_for 30 "server 2 ready again" ready 1
wait_for 20 "haproxy seeing s2 up again" is_up s2
before_s2=$(grep -c 'server=tracewire/s2 ' "$WORK/haproxy.log" || true)
"$BIN" bench lookup "${BENCH_LB[@]}" --demo-org northwind-exchange --count "$COUNT" --seconds 2 --connections 8
sleep 1
after_s2=$(grep -c 'server=tracewire/s2 ' "$WORK/haproxy.log" || true)
if [ "$after_s2" -le "$before_s2" ]; then
  echo "FATAL: no connection went to the restarted server 2" >&2
  exit 1
fi
echo "haproxy: $((after_s2 - before_s2)) new sessions on the restarted s2"

if [ "$MODE" = full ]; then
  step "audit entries after the benchmarks, by action (bytes per entry, for docs/scaling-plan.md)"
  psql "$PRIMARY_URL" -X -c "SELECT action, count(*) AS entries, round(avg(pg_column_size(a.*))) AS avg_row_bytes, round(avg(result_count)) AS avg_results FROM audit_log a GROUP BY action ORDER BY count(*) DESC LIMIT 10" \
    -c "SELECT pg_size_pretty(pg_total_relation_size('audit_log')) AS audit_log_total, (SELECT count(*) FROM audit_log) AS entries, pg_size_pretty(pg_total_relation_size('changes')) AS changes_total"
fi
if [ "$MODE" = full ] && [ "${SCALEOUT_COPY_FLOOR:-1}" = 1 ]; then
  step "PostgreSQL's COPY floor for the ingested rows (docs/scaling/copy-floor.sql)"
  mkdir -p "$WORK/floor"
  chown postgres "$WORK/floor" 2>/dev/null || true
  psql "$PRIMARY_URL" -X -v dir="$WORK/floor" -f "$REPO/docs/scaling/copy-floor.sql"
  rm -rf "$WORK/floor"
fi

step "the replica has every record of the primary"
primary_lsn=$(psql "postgres://postgres@127.0.0.1:$PG_PORT/postgres" -qAtXc "SELECT pg_current_wal_lsn()")
caught_up() { [ "$(psql "$REPLICA_URL" -qAtXc "SELECT pg_last_wal_replay_lsn() >= '$primary_lsn'::pg_lsn")" = t ]; }
wait_for 120 "the replica replaying up to $primary_lsn" caught_up
on_primary=$(psql "$PRIMARY_URL" -qAtXc "SELECT count(*) FROM records")
on_replica=$(psql "$REPLICA_URL" -qAtXc "SELECT count(*) FROM records")
echo "records: $on_primary on the primary, $on_replica on the replica"
[ "$on_primary" = "$on_replica" ] || {
  echo "FATAL: the replica differs from the primary" >&2
  exit 1
}
# Both servers have database.replica_urls = [the replica]: reads went there.
replica_reads() { # replica_reads INDEX -> reads that server sent to the replica
  curl -fsS "http://127.0.0.1:${OPS_PORTS[$1]}/metrics" \
    | awk '/^tracewire_replica_reads_total/ { n += $NF } END { print n + 0 }'
}
# Server 2 was killed and restarted above, so its counter started again.
for i in 0 1; do echo "server $((i + 1)): $(replica_reads "$i") reads served by the replica"; done
[ "$(replica_reads 0)" -gt 0 ] || {
  echo "FATAL: server 1 served no read from its replica" >&2
  exit 1
}

step "ok: scale-out $MODE mode passed"

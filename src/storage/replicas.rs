//! Read replicas: which PostgreSQL server a record read runs on.
//!
//! `database.replica_urls` names streaming replicas of the primary. Record
//! reads (get, list, search, screening, export, the change feed, TAXII) run
//! on one of them through [`super::Database::read`]; writes and audit
//! appends always run on the primary (an audited read on a replica appends
//! its entry on a primary connection, see [`writes_on_primary`]).
//!
//! **Read-your-writes, on any server.** After every API write transaction
//! commits, the server stores the primary's WAL insert position
//! (`pg_current_wal_insert_lsn()`, which is past the commit record) as the
//! writing organization's position in the `write_positions` table on the
//! primary ([`note_write`]). Before a read, the server reads the reading
//! organization's position there (one primary-key lookup on the primary,
//! so a write taken by any server behind the same primary counts), and
//! serves the read from a replica only once that replica's
//! `pg_last_wal_replay_lsn()` has passed it, asked on the very connection
//! the read then runs on (replay only moves forward). It waits up to
//! `database.replica_wait_ms` for that; otherwise the primary serves it.
//!
//! **Lag and outages.** A probe thread asks the primary for its WAL
//! position and every replica for its replay position, every
//! [`PROBE_EVERY`]. A replica's lag is the age of the oldest primary
//! position it has not replayed yet (0 when it has replayed all of them): a
//! quiet primary does not make a replica look late. A replica that does not
//! answer, is not in recovery, or lags more than
//! `database.replica_max_lag_ms` is skipped until a probe finds it fine
//! again; a read that fails on a replica (connection lost, a recovery
//! conflict) is served again by the primary. None of this is an error for
//! the client. `/metrics` and `/readyz` on the ops listener show each
//! replica's state.
use super::schema::write_positions;
use super::{DbConnection, DbPool, PooledDb, StorageError, StorageResult};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How often the probe looks at the primary and the replicas.
pub const PROBE_EVERY: Duration = Duration::from_millis(200);
/// How long a read waits for a connection to a replica before trying the next.
const CHECKOUT_WAIT: Duration = Duration::from_millis(100);
/// How often a read waiting for a replica to catch up looks again.
const CATCH_UP_POLL: Duration = Duration::from_millis(2);

/// One replica: its pool and what the probe last saw.
pub struct Replica {
    /// The URL without its password, for logs and metrics.
    pub label: String,
    pool: DbPool,
    state: Mutex<ReplicaState>,
    reads: AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct ReplicaState {
    probed: bool,
    up: bool,
    lag: Duration,
    replay_lsn: i64,
    problem: Option<String>,
}

/// What `/readyz` and `/metrics` show of one replica.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReplicaStatus {
    /// The replica's URL, without a password.
    pub replica: String,
    /// Answering, in recovery, and within the lag bound: reads go to it.
    pub serving: bool,
    /// Answering and in recovery.
    pub up: bool,
    /// How far behind the primary it was at the last probe, in seconds.
    pub lag_seconds: f64,
    /// Reads it has served since the server started.
    pub reads: u64,
    /// Why it is not serving, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Why a read was served by the primary although replicas are configured.
#[derive(Debug, Clone, Copy)]
pub enum PrimaryReason {
    /// No replica was up and within the lag bound.
    NoneServing,
    /// The replicas had not replayed the reader's last write in time.
    BehindOwnWrite,
    /// The read failed on a replica and was run again on the primary.
    ReplicaFailed,
}

impl PrimaryReason {
    pub const ALL: [PrimaryReason; 3] = [
        PrimaryReason::NoneServing,
        PrimaryReason::BehindOwnWrite,
        PrimaryReason::ReplicaFailed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PrimaryReason::NoneServing => "no_replica_serving",
            PrimaryReason::BehindOwnWrite => "replica_behind_own_write",
            PrimaryReason::ReplicaFailed => "replica_failed",
        }
    }
}

/// The configured replicas and the routing state shared by a server's reads.
pub struct Replicas {
    list: Vec<Replica>,
    primary: DbPool,
    max_lag: Duration,
    wait: Duration,
    next: AtomicUsize,
    primary_reads: [AtomicU64; 3],
    /// Positions of writes this server took (a fallback should storing
    /// one in `write_positions` fail).
    local_positions: Mutex<HashMap<String, i64>>,
}

impl Replicas {
    /// Pools for `urls` (connection strings), probed from now on by a
    /// thread that ends when the returned handle is dropped.
    pub fn start(
        primary: DbPool,
        urls: Vec<(String, String)>,
        max_lag: Duration,
        wait: Duration,
    ) -> Arc<Replicas> {
        let list = urls
            .into_iter()
            .map(|(connection_string, label)| Replica {
                label,
                pool: diesel::r2d2::Pool::builder()
                    .max_size(8)
                    .min_idle(Some(0))
                    .connection_timeout(CHECKOUT_WAIT.max(Duration::from_millis(500)))
                    .connection_customizer(Box::new(super::ConnectionSettings))
                    .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
                    .build_unchecked(diesel::r2d2::ConnectionManager::new(connection_string)),
                state: Mutex::new(ReplicaState::default()),
                reads: AtomicU64::new(0),
            })
            .collect();
        let replicas = Arc::new(Replicas {
            list,
            primary,
            max_lag,
            wait,
            next: AtomicUsize::new(0),
            primary_reads: Default::default(),
            local_positions: Mutex::new(HashMap::new()),
        });
        // The first probe before serving: reads start with known replicas.
        let mut seen = VecDeque::new();
        probe(&replicas, &mut seen);
        let weak = Arc::downgrade(&replicas);
        let _ = std::thread::Builder::new()
            .name("tracewire-replica-probe".into())
            .spawn(move || probe_loop(weak, seen));
        replicas
    }

    /// Each replica's state, in configuration order.
    pub fn status(&self) -> Vec<ReplicaStatus> {
        self.list
            .iter()
            .map(|r| {
                let state = locked(&r.state).clone();
                let serving = self.serving(&state);
                ReplicaStatus {
                    replica: r.label.clone(),
                    serving,
                    up: state.up,
                    lag_seconds: state.lag.as_secs_f64(),
                    reads: r.reads.load(Ordering::Relaxed),
                    problem: if serving {
                        None
                    } else if !state.probed {
                        Some("not probed yet".into())
                    } else if state.up {
                        Some(format!(
                            "lags {} ms behind the primary (bound {} ms)",
                            state.lag.as_millis(),
                            self.max_lag.as_millis()
                        ))
                    } else {
                        state.problem.clone()
                    },
                }
            })
            .collect()
    }

    /// Reads served by the primary, by reason.
    pub fn primary_reads(&self) -> Vec<(&'static str, u64)> {
        PrimaryReason::ALL
            .iter()
            .map(|r| {
                (
                    r.name(),
                    self.primary_reads[*r as usize].load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    pub fn count_primary_read(&self, reason: PrimaryReason) {
        self.primary_reads[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn serving(&self, state: &ReplicaState) -> bool {
        state.probed && state.up && state.lag <= self.max_lag
    }

    /// The replicas serving now, starting at a different one each time.
    fn candidates(&self) -> Vec<&Replica> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.list.len();
        (0..n)
            .map(|i| &self.list[(start + i) % n])
            .filter(|r| self.serving(&locked(&r.state)))
            .collect()
    }

    /// The position a replica must have replayed before it may serve
    /// `organization`: its last write's, from the primary.
    fn position_of(&self, organization: &str) -> StorageResult<i64> {
        let mut conn = self.primary.get_timeout(Duration::from_secs(2))?;
        let stored: Option<i64> = write_positions::table
            .find(organization)
            .select(write_positions::lsn)
            .first(&mut *conn)
            .optional()?;
        let local = locked(&self.local_positions)
            .get(organization)
            .copied()
            .unwrap_or(0);
        Ok(stored.unwrap_or(0).max(local))
    }

    /// A connection to a replica that has replayed `organization`'s last
    /// write, or why there is none (then the primary serves the read).
    pub fn connection_for(
        &self,
        organization: &str,
    ) -> Result<(&Replica, PooledDb), PrimaryReason> {
        let candidates = self.candidates();
        if candidates.is_empty() {
            return Err(PrimaryReason::NoneServing);
        }
        let need = self
            .position_of(organization)
            .map_err(|_| PrimaryReason::NoneServing)?;
        let deadline = Instant::now() + self.wait;
        let mut reached_any = false;
        for replica in candidates {
            let Ok(mut conn) = replica.pool.get_timeout(CHECKOUT_WAIT) else {
                continue;
            };
            reached_any = true;
            loop {
                match replay_position(&mut conn) {
                    Ok(Some(replayed)) if replayed >= need => {
                        replica.reads.fetch_add(1, Ordering::Relaxed);
                        return Ok((replica, conn));
                    }
                    Ok(Some(_)) if Instant::now() < deadline => std::thread::sleep(CATCH_UP_POLL),
                    _ => break,
                }
            }
        }
        Err(if reached_any {
            PrimaryReason::BehindOwnWrite
        } else {
            PrimaryReason::NoneServing
        })
    }

    /// Marks `replica` down after a read failed on it (until the next probe).
    pub fn failed(&self, replica: &Replica, cause: &str) {
        let mut state = locked(&replica.state);
        state.up = false;
        state.problem = Some(format!("a read failed: {cause}"));
        tracing::warn!(replica = %replica.label, "read failed on a replica; served by the primary");
    }

    /// The primary pool, for audit appends of reads served by a replica.
    pub fn primary(&self) -> &DbPool {
        &self.primary
    }

    fn remember(&self, organization: &str, lsn: i64) {
        let mut local = locked(&self.local_positions);
        let entry = local.entry(organization.to_owned()).or_insert(0);
        *entry = (*entry).max(lsn);
    }
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = BigInt)]
    lsn: i64,
}

#[derive(QueryableByName)]
struct Replay {
    #[diesel(sql_type = Bool)]
    in_recovery: bool,
    #[diesel(sql_type = BigInt)]
    lsn: i64,
}

/// The replica's replay position, or `None` when it is not a replica (in
/// recovery) at all.
fn replay_position(conn: &mut DbConnection) -> StorageResult<Option<i64>> {
    let DbConnection::Postgres(pg) = conn else {
        return Ok(None);
    };
    let replay: Replay = diesel::sql_query(
        "SELECT pg_is_in_recovery() AS in_recovery, \
         COALESCE((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, -1) AS lsn",
    )
    .get_result(pg)?;
    Ok(replay.in_recovery.then_some(replay.lsn))
}

/// The primary's WAL insert position now.
fn primary_position(conn: &mut DbConnection) -> StorageResult<i64> {
    let DbConnection::Postgres(pg) = conn else {
        return Ok(0);
    };
    let position: Position =
        diesel::sql_query("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS lsn")
            .get_result(pg)?;
    Ok(position.lsn)
}

fn probe_loop(replicas: Weak<Replicas>, mut seen: VecDeque<(Instant, i64)>) {
    loop {
        std::thread::sleep(PROBE_EVERY);
        let Some(replicas) = replicas.upgrade() else {
            return;
        };
        probe(&replicas, &mut seen);
    }
}

/// One probe of the primary and every replica. `seen` holds primary
/// positions seen, oldest first, with when they were seen.
fn probe(replicas: &Replicas, seen: &mut VecDeque<(Instant, i64)>) {
    let now = Instant::now();
    if let Ok(position) = replicas
        .primary
        .get_timeout(Duration::from_secs(1))
        .map_err(StorageError::from)
        .and_then(|mut c| primary_position(&mut c))
    {
        if seen.back().is_none_or(|(_, last)| *last < position) {
            seen.push_back((now, position));
        }
    }
    let mut oldest_needed = seen.len();
    for replica in &replicas.list {
        let probe = replica
            .pool
            .get_timeout(Duration::from_millis(500))
            .map_err(|e| e.to_string())
            .and_then(|mut c| replay_position(&mut c).map_err(|e| e.to_string()));
        let mut state = locked(&replica.state);
        let was = (state.probed, replicas.serving(&state));
        state.probed = true;
        match probe {
            Ok(Some(replayed)) => {
                // The first position seen that it has not replayed.
                let behind = seen.iter().position(|(_, p)| *p > replayed);
                state.lag = behind.map_or(Duration::ZERO, |i| now - seen[i].0);
                state.up = true;
                state.replay_lsn = replayed;
                state.problem = None;
                oldest_needed = oldest_needed.min(behind.unwrap_or(seen.len()));
            }
            Ok(None) => {
                state.up = false;
                state.problem = Some("not in recovery: not a replica".into());
            }
            Err(e) => {
                state.up = false;
                state.problem = Some(format!("does not answer: {e}"));
            }
        }
        let serving = replicas.serving(&state);
        let lag_ms = state.lag.as_millis() as u64;
        if serving && was != (true, true) {
            tracing::info!(replica = %replica.label, lag_ms, "replica serves reads");
        } else if !serving && (was.1 || !was.0) {
            tracing::warn!(replica = %replica.label, problem = ?state.problem, lag_ms, "replica skipped");
        }
    }
    // Keep only what some replica has not replayed yet, plus the last.
    let keep_from = oldest_needed.min(seen.len().saturating_sub(1));
    seen.drain(..keep_from);
}

thread_local! {
    /// The organization whose API write ran on this thread (see [`note_write`]).
    static WRITER: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Set when a query failed on this thread (see [`take_failed`]).
    static FAILED: Cell<bool> = const { Cell::new(false) };
    /// Where writes go while a read runs on a replica.
    static WRITES_TO: RefCell<Option<WritesTo>> = const { RefCell::new(None) };
}

/// Called at the start of every writing transaction: remembers the writer,
/// whose position [`note_write`] stores once the work has committed.
pub fn wrote(organization: &str) {
    WRITER.with(|w| *w.borrow_mut() = Some(organization.to_owned()));
}

pub fn take_writer() -> Option<String> {
    WRITER.with(|w| w.borrow_mut().take())
}

pub fn note_failed() {
    FAILED.with(|f| f.set(true));
}

/// Notes that a query failed (see [`take_failed`]) and passes its error on.
pub fn noting_failed<E>(error: &E) -> &E {
    note_failed();
    error
}

pub fn take_failed() -> bool {
    FAILED.with(|f| f.replace(false))
}

/// Stores `organization`'s write position (after its transaction committed).
pub fn note_write(replicas: &Replicas, conn: &mut DbConnection, organization: &str) {
    let stored = (|| -> StorageResult<i64> {
        let DbConnection::Postgres(pg) = conn else {
            return Ok(0);
        };
        let position: Position = diesel::sql_query(
            "INSERT INTO write_positions (organization_id, lsn) \
             VALUES ($1, (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint) \
             ON CONFLICT (organization_id) DO UPDATE \
             SET lsn = GREATEST(write_positions.lsn, EXCLUDED.lsn) RETURNING lsn",
        )
        .bind::<diesel::sql_types::Text, _>(organization)
        .get_result(pg)?;
        Ok(position.lsn)
    })();
    match stored {
        Ok(lsn) => replicas.remember(organization, lsn),
        Err(e) => {
            // This server still knows; other servers may serve the next
            // read from a replica that has not replayed it yet.
            tracing::warn!(error = %e, "could not store the write position");
            if let Ok(lsn) = primary_position(conn) {
                replicas.remember(organization, lsn);
            }
        }
    }
}

struct WritesTo {
    pool: DbPool,
    conn: Option<PooledDb>,
}

/// Runs `work` with writes sent to `primary` (see [`writes_on_primary`]).
pub fn with_writes_on<T>(primary: &DbPool, work: impl FnOnce() -> T) -> T {
    let previous = WRITES_TO.with(|w| {
        w.borrow_mut().replace(WritesTo {
            pool: primary.clone(),
            conn: None,
        })
    });
    let result = work();
    WRITES_TO.with(|w| *w.borrow_mut() = previous);
    result
}

/// Runs the write `f` on `conn`, or on a primary connection while a read
/// runs on a replica (audit appends of reads).
pub fn writes_on_primary<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> StorageResult<T>,
) -> StorageResult<T> {
    let Some(mut to) = WRITES_TO.with(|w| w.borrow_mut().take()) else {
        return f(conn);
    };
    let result = (|| {
        let primary = match &mut to.conn {
            Some(c) => c,
            slot @ None => slot.insert(to.pool.get_timeout(Duration::from_secs(5))?),
        };
        f(primary)
    })();
    WRITES_TO.with(|w| *w.borrow_mut() = Some(to));
    result
}

//! Storage: the database pool over SQLite or PostgreSQL (one code path
//! through diesel's `MultiConnection`), the migrations of both, and every
//! SQL query of the service. Nothing outside this module writes SQL.
//!
//! Queries are plain functions over `&mut DbConnection`; handlers run them on
//! the blocking thread pool through [`Database::run`], the CLI calls them
//! directly.
use crate::config::DatabaseUrl;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

/// Runs the same multi-row statement on whichever backend `conn` is
/// (diesel's MultiConnection does not offer batch inserts itself).
macro_rules! on_backend {
    ($conn:expr, $inner:ident => $body:expr) => {
        match $conn {
            DbConnection::Sqlite($inner) => $body,
            DbConnection::Postgres($inner) => $body,
        }
    };
}

pub mod alerts;
pub mod api_clients;
pub mod audit;
pub mod certificates;
pub mod changes;
pub mod communities;
pub mod health;
pub mod idempotency;
pub mod organizations;
pub mod records;
pub mod replicas;
pub mod schema;
pub mod secrets;
pub mod signing_keys;
pub mod stix_imports;
pub mod taxii;
pub mod watchlists;
pub mod webhooks;

/// One connection to either backend. Portable queries are written once
/// against this type; the few backend-specific statements match on it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// The backend type diesel generates for [`DbConnection`] (used by boxed queries).
pub type DbConnectionBackend = <DbConnection as diesel::Connection>::Backend;

pub type DbPool = Pool<ConnectionManager<DbConnection>>;
pub type PooledDb = PooledConnection<ConnectionManager<DbConnection>>;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Errors of the storage layer. Callers map them to HTTP in `crate::error`.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database cannot serve the request: unreachable, full or
    /// read-only (see [`health`]); `cause` is for the log only.
    #[error("{fault}: {cause}")]
    Fault {
        fault: health::StorageFault,
        cause: String,
    },
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(diesel::result::Error),
}

impl From<diesel::result::Error> for StorageError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => StorageError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                tracing::debug!(cause = info.message(), "unique violation");
                StorageError::Conflict("a resource with this identifier already exists".into())
            }
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                StorageError::Conflict("refers to something that does not exist".into())
            }
            other => match health::classify(replicas::noting_failed(&other)) {
                Some(fault) => {
                    let cause = other.to_string();
                    health::note(fault, &cause);
                    StorageError::Fault { fault, cause }
                }
                None => {
                    if health::ended_by_the_database(&other) {
                        health::note_suspect(&other.to_string());
                    }
                    StorageError::Query(other)
                }
            },
        }
    }
}

impl From<diesel::r2d2::PoolError> for StorageError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        replicas::note_failed();
        StorageError::Fault {
            fault: health::StorageFault::Unreachable,
            cause: format!("no database connection: {error}"),
        }
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// The current time as stored: UTC, truncated to microseconds so that values
/// read back from either backend compare equal to the ones written.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(now, chrono::TimeDelta::microseconds(1)).unwrap_or(now)
}

/// Per-connection settings: SQLite's locking and journal; on PostgreSQL, JIT
/// off (short indexed queries gain nothing from it, and while planner
/// statistics lag behind a bulk ingest, its compile time alone made each
/// screening query take 20 ms instead of 0.1 ms).
#[derive(Debug)]
struct ConnectionSettings;

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for ConnectionSettings {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        if let DbConnection::Sqlite(sqlite) = conn {
            // busy_timeout first: switching to WAL itself needs the lock.
            sqlite
                .batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        if let DbConnection::Postgres(pg) = conn {
            pg.batch_execute("SET jit = off")
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// The shared handle to the database: cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: DbPool,
    backend: Backend,
    /// Audit entries of concurrent reads, appended together.
    read_entries: std::sync::Arc<audit::ReadEntryQueue>,
    /// Known down? (fail fast until the probe sees it answer again)
    health: std::sync::Arc<health::Health>,
    /// How long a caller waits for a pooled connection.
    timeout: Duration,
    /// The directory of the SQLite database file (for `health::diagnose_disk`).
    sqlite_dir: Option<std::sync::Arc<std::path::Path>>,
    /// Read replicas (PostgreSQL only), see [`Database::read`].
    replicas: Option<std::sync::Arc<replicas::Replicas>>,
}

/// The pool's own connection timeout (see `Database::connect`).
const POOL_RETRY_TIMEOUT: Duration = Duration::from_secs(1);

/// Opens one connection like the pool's and takes the write lock once.
fn probe_writable(
    connection_string: &str,
    backend: Backend,
) -> Result<(), (Option<health::StorageFault>, String)> {
    let query = |e: diesel::result::Error| (health::classify(&e), e.to_string());
    let mut conn = match backend {
        Backend::Sqlite => {
            diesel::SqliteConnection::establish(connection_string).map(DbConnection::Sqlite)
        }
        Backend::Postgres => {
            diesel::PgConnection::establish(connection_string).map(DbConnection::Postgres)
        }
    }
    .map_err(|e| (health::classify_connection_error(&e), e.to_string()))?;
    ConnectionSettings
        .on_acquire(&mut conn)
        .map_err(|e| (health::classify_pool_error(&e), e.to_string()))?;
    if let DbConnection::Sqlite(sqlite) = &mut conn {
        sqlite
            .batch_execute("BEGIN IMMEDIATE; ROLLBACK;")
            .map_err(query)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Database {
    /// Connects (failing fast with the real cause when the database cannot be
    /// reached) and builds the pool. Does not run migrations.
    pub fn connect(
        url: &DatabaseUrl,
        pool_size: u32,
        timeout: Duration,
    ) -> StorageResult<Database> {
        // Initialise OpenSSL (used by libpq for TLS to PostgreSQL) before
        // libpq does, without its exit-time cleanup: that cleanup freed
        // OpenSSL's state while pool threads could still be using it, and
        // the process then crashed on exit now and then.
        openssl_sys::init();
        let sqlite_dir = match url {
            DatabaseUrl::Sqlite(path) => Some(std::sync::Arc::from(
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new(".")),
            )),
            DatabaseUrl::Postgres(_) => None,
        };
        let (connection_string, backend) = match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StorageError::Unavailable(format!(
                            "cannot create {}: {e}",
                            parent.display()
                        ))
                    })?;
                }
                // SQLite opens a database it cannot write read-only,
                // silently. Write beside it instead of opening the file
                // itself (closing a descriptor of the file would drop the
                // POSIX locks of this process's SQLite connections).
                if path.exists() {
                    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
                    let check = dir
                        .unwrap_or(std::path::Path::new("."))
                        .join(format!(".tracewire-write-check-{}", std::process::id()));
                    std::fs::write(&check, b"")
                        .and_then(|()| std::fs::remove_file(&check))
                        .map_err(|e| {
                            let what = match e.raw_os_error() {
                                Some(28) | Some(122) => "is on a full file system",
                                Some(1) | Some(13) | Some(30) => "is read-only",
                                _ => "cannot be written",
                            };
                            StorageError::Unavailable(format!(
                                "the database {} {what}: cannot write in its directory: {e}",
                                path.display()
                            ))
                        })?;
                }
                (path.to_string_lossy().into_owned(), Backend::Sqlite)
            }
            // libpq waits for an unanswered connect forever by default: bound
            // it, so that an unreachable host is found out (and the breaker
            // opens) like a refused connection.
            DatabaseUrl::Postgres(url) => (
                health::with_connect_timeout(url, timeout.as_secs().clamp(2, 30)),
                Backend::Postgres,
            ),
        };
        // One direct connection first, set up like the pool's and asked for
        // the write lock: r2d2 would only report a timeout (after logging
        // every failed attempt), and a read-only SQLite file opens fine.
        probe_writable(&connection_string, backend).map_err(|(fault, e)| {
            let what = match fault {
                Some(health::StorageFault::ReadOnly) => "is read-only",
                Some(health::StorageFault::NoSpace) => "is full",
                _ => "cannot be reached",
            };
            StorageError::Unavailable(format!("the database {} {what}: {e}", url.redacted()))
        })?;
        let health = health::Health::connecting_to(backend, connection_string.clone());
        // The pool's own timeout stays short: r2d2 backs off reconnecting
        // up to half of it, which would delay recovery after an outage.
        // Callers wait up to `timeout` in `checkout`.
        let pool = Pool::builder()
            .max_size(pool_size)
            .connection_timeout(timeout.min(POOL_RETRY_TIMEOUT))
            .connection_customizer(Box::new(ConnectionSettings))
            .error_handler(Box::new(health::PoolErrors(health.clone())))
            .build_unchecked(ConnectionManager::<DbConnection>::new(connection_string));
        Ok(Database {
            pool,
            backend,
            read_entries: Default::default(),
            health,
            timeout,
            sqlite_dir,
            replicas: None,
        })
    }

    /// Sends record reads to these streaming replicas of the (PostgreSQL)
    /// primary from now on; see [`replicas`].
    pub fn with_replicas(
        mut self,
        urls: &[DatabaseUrl],
        max_lag: Duration,
        wait: Duration,
    ) -> Database {
        if urls.is_empty() || self.backend != Backend::Postgres {
            return self;
        }
        let urls = urls
            .iter()
            .filter_map(|url| match url {
                DatabaseUrl::Postgres(u) => Some((
                    health::with_connect_timeout(u, 2),
                    url.redacted().to_string(),
                )),
                DatabaseUrl::Sqlite(_) => None,
            })
            .collect();
        self.replicas = Some(replicas::Replicas::start(
            self.pool.clone(),
            urls,
            max_lag,
            wait,
        ));
        self
    }

    /// The replicas, when configured.
    pub fn replicas(&self) -> Option<&replicas::Replicas> {
        self.replicas.as_deref()
    }

    /// Runs a record read for `organization` on a replica that has replayed
    /// that organization's last write, or else on the primary (see
    /// [`replicas`]). Without replicas this is [`Database::run`]. The work
    /// must only read, apart from audit appends (they go to the primary).
    pub async fn read<T, E, F>(&self, organization: &str, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Clone + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let Some(replicas) = self.replicas.clone() else {
            return self.run(work).await;
        };
        let organization = organization.to_owned();
        let read_entries = self.read_entries.clone();
        let span = tracing::Span::current();
        let on_replica = work.clone();
        let attempt = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let (replica, mut conn) = match replicas.connection_for(&organization) {
                Ok(found) => found,
                Err(reason) => return Err(reason),
            };
            health::take_noted();
            health::take_suspect();
            replicas::take_failed();
            let result = replicas::with_writes_on(replicas.primary(), || {
                audit::with_read_queue(&read_entries, || on_replica(&mut conn))
            });
            let noted = health::take_noted();
            health::take_suspect();
            match result {
                Err(_) if replicas::take_failed() || noted.is_some() => {
                    let cause = noted.map_or_else(|| "query failed".into(), |(_, c)| c);
                    replicas.failed(replica, &cause);
                    Err(replicas::PrimaryReason::ReplicaFailed)
                }
                result => Ok(result),
            }
        })
        .await;
        match attempt {
            Ok(Ok(result)) => result,
            Ok(Err(reason)) => {
                if let Some(replicas) = &self.replicas {
                    replicas.count_primary_read(reason);
                }
                self.run(work).await
            }
            Err(join_error) => Err(E::from(StorageError::Unavailable(format!(
                "storage task failed: {join_error}"
            )))),
        }
    }

    /// Whether the database is known to be unreachable right now.
    pub fn is_down(&self) -> bool {
        self.health.is_down()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for synchronous callers (CLI, startup). Never call this on an async worker.
    pub fn get(&self) -> StorageResult<PooledDb> {
        checkout(&self.pool, &self.health, self.timeout)
    }

    /// Runs storage work on the blocking thread pool, off the async workers.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        if let Some(down_for) = self.health.down_for() {
            return Err(E::from(StorageError::Fault {
                fault: health::StorageFault::Unreachable,
                cause: format!(
                    "database known down for {} ms; failing fast",
                    down_for.as_millis()
                ),
            }));
        }
        let pool = self.pool.clone();
        let read_entries = self.read_entries.clone();
        let health = self.health.clone();
        let timeout = self.timeout;
        let sqlite_dir = self.sqlite_dir.clone();
        let replicas = self.replicas.clone();
        let span = tracing::Span::current();
        let joined = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = checkout(&pool, &health, timeout)?;
            health::take_noted();
            health::take_suspect();
            replicas::take_writer();
            let result = audit::with_read_queue(&read_entries, || work(&mut conn));
            if let (Some(replicas), Some(writer), true) =
                (&replicas, replicas::take_writer(), result.is_ok())
            {
                replicas::note_write(replicas, &mut conn, &writer);
            }
            let noted = match (&result, health::take_noted(), health::take_suspect()) {
                // The database ended the transaction and diesel lost the
                // cause: name it if the disk says why, and otherwise still
                // answer as a storage fault (nothing was stored), never 500.
                (Err(_), None, Some(suspect)) => sqlite_dir
                    .as_deref()
                    .and_then(|dir| health::diagnose_disk(dir, &suspect))
                    .or(Some((health::StorageFault::Aborted, suspect))),
                (_, noted, _) => noted,
            };
            match (result, noted) {
                // A fault met on the way is the cause, whatever the work
                // then failed with (a rollback, the transaction manager).
                (Err(_), Some((fault, cause))) => {
                    if fault == health::StorageFault::Unreachable {
                        health.trip(&cause);
                    }
                    Err(E::from(StorageError::Fault { fault, cause }))
                }
                (result, _) => result,
            }
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(join_error) => Err(E::from(StorageError::Unavailable(format!(
                "storage task failed: {join_error}"
            )))),
        }
    }

    /// Applies pending migrations of the backend in use; returns their names.
    pub fn migrate(&self) -> StorageResult<Vec<String>> {
        let mut conn = self.get()?;
        run_migrations(&mut conn)
    }

    /// `SELECT 1`: is the database answering?
    pub fn ping(conn: &mut DbConnection) -> StorageResult<()> {
        conn.batch_execute("SELECT 1").map_err(StorageError::from)
    }

    /// Pool statistics for metrics: (connections, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }
}

/// A pooled connection, waiting up to `timeout`, but giving up at once when
/// the database is (or becomes, while waiting) known to be down.
fn checkout(
    pool: &DbPool,
    health: &std::sync::Arc<health::Health>,
    timeout: Duration,
) -> StorageResult<PooledDb> {
    const SLICE: Duration = Duration::from_millis(100);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if health.is_down() {
            return Err(StorageError::Fault {
                fault: health::StorageFault::Unreachable,
                cause: "database known down; failing fast".into(),
            });
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match pool.get_timeout(left.min(SLICE)) {
            Ok(conn) => return Ok(conn),
            Err(error) if left <= SLICE => return Err(error.into()),
            Err(_) => {}
        }
    }
}

/// Runs the embedded migrations of the connection's backend. On PostgreSQL an
/// advisory lock keeps several servers starting at once from racing.
pub fn run_migrations(conn: &mut DbConnection) -> StorageResult<Vec<String>> {
    let to_names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| {
        versions
            .into_iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
    };
    const LOCK_KEY: i64 = 0x7472_6163_6577; // "tracew"
    let applied = match conn {
        DbConnection::Sqlite(sqlite) => sqlite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(to_names)
            .map_err(|e| StorageError::Migration(e.to_string())),
        DbConnection::Postgres(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({LOCK_KEY})"))?;
            pg.run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(to_names)
                .map_err(|e| StorageError::Migration(e.to_string()))
        }
    };
    // Data the migrations cannot compute in SQL on every backend.
    let filled = applied
        .and_then(|applied| records::fill_screen_buckets(conn).map(|filled| (applied, filled)));
    if let DbConnection::Postgres(pg) = conn {
        pg.batch_execute(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))?;
    }
    let (applied, filled) = filled?;
    if filled > 0 {
        tracing::info!(
            records = filled,
            "private screening buckets filled for older records"
        );
    }
    Ok(applied)
}

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

pub mod api_clients;
pub mod audit;
pub mod certificates;
pub mod changes;
pub mod communities;
pub mod idempotency;
pub mod organizations;
pub mod records;
pub mod schema;
pub mod secrets;
pub mod signing_keys;
pub mod taxii;

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
            other => StorageError::Query(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for StorageError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        StorageError::Unavailable(error.to_string())
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
                (path.to_string_lossy().into_owned(), Backend::Sqlite)
            }
            DatabaseUrl::Postgres(url) => (url.clone(), Backend::Postgres),
        };
        // One direct connection first: r2d2 would only report a timeout.
        let probe = match backend {
            Backend::Sqlite => diesel::SqliteConnection::establish(&connection_string).map(|_| ()),
            Backend::Postgres => diesel::PgConnection::establish(&connection_string).map(|_| ()),
        };
        probe.map_err(|e| {
            StorageError::Unavailable(format!("cannot connect to {}: {e}", url.redacted()))
        })?;
        let pool = Pool::builder()
            .max_size(pool_size)
            .connection_timeout(timeout)
            .connection_customizer(Box::new(ConnectionSettings))
            .build(ConnectionManager::<DbConnection>::new(connection_string))
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        Ok(Database {
            pool,
            backend,
            read_entries: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for synchronous callers (CLI, startup). Never call this on an async worker.
    pub fn get(&self) -> StorageResult<PooledDb> {
        Ok(self.pool.get()?)
    }

    /// Runs storage work on the blocking thread pool, off the async workers.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let read_entries = self.read_entries.clone();
        let span = tracing::Span::current();
        let joined = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(StorageError::from)?;
            audit::with_read_queue(&read_entries, || work(&mut conn))
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

/// Runs the embedded migrations of the connection's backend. On PostgreSQL an
/// advisory lock keeps several servers starting at once from racing.
pub fn run_migrations(conn: &mut DbConnection) -> StorageResult<Vec<String>> {
    let to_names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| {
        versions
            .into_iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
    };
    match conn {
        DbConnection::Sqlite(sqlite) => sqlite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(to_names)
            .map_err(|e| StorageError::Migration(e.to_string())),
        DbConnection::Postgres(pg) => {
            const LOCK_KEY: i64 = 0x7472_6163_6577; // "tracew"
            pg.batch_execute(&format!("SELECT pg_advisory_lock({LOCK_KEY})"))?;
            let result = pg
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(to_names)
                .map_err(|e| StorageError::Migration(e.to_string()));
            pg.batch_execute(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))?;
            result
        }
    }
}

//! Storage faults and the database's health.
//!
//! A fault is an error that says nothing about the request and everything
//! about the database: it cannot be reached (stopped, restarting, network
//! gone), it has no space left, or it is read-only. [`classify`] recognises
//! them in diesel's, libpq's and SQLite's errors; they become
//! [`super::StorageError::Fault`] and a 503 with `Retry-After`.
//!
//! [`Health`] is a circuit breaker: once the database is known to be
//! unreachable, [`super::Database::run`] fails at once instead of letting
//! every request wait for a pooled connection, and a background probe
//! connects every [`PROBE_INTERVAL`] until the database answers again.
use diesel::connection::SimpleConnection;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::Connection;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the probe tries the database while it is down.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// What is wrong with the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// Stopped, restarting, unreachable, or the connection was lost.
    Unreachable,
    /// The disk (or the database's size limit) is full.
    NoSpace,
    /// The database or its file system only allows reads.
    ReadOnly,
    /// The database ended a write transaction by itself and the cause could
    /// not be named (SQLite does so on a full disk, an I/O error or running
    /// out of memory; a disk with a little space left passes the space
    /// check but not a large write).
    Aborted,
    /// Other writers held the database longer than the write could wait
    /// (SQLite's "database is locked" after its busy timeout): nothing was
    /// stored, and the same request can be sent again.
    Busy,
}

impl StorageFault {
    /// What a client may be told (no internal detail).
    pub fn describe(self) -> &'static str {
        match self {
            StorageFault::Unreachable => "the database cannot be reached",
            StorageFault::NoSpace => "the database has no space left; nothing was stored",
            StorageFault::ReadOnly => "the database is read-only; nothing was stored",
            StorageFault::Aborted => {
                "the database could not complete the write (it ended the transaction: out of disk space, an I/O error or out of memory); nothing was stored"
            }
            StorageFault::Busy => {
                "the database was busy with other writes for longer than this one could wait; nothing was stored, send it again"
            }
        }
    }

    /// The `Retry-After` a client gets, in seconds.
    pub fn retry_after_secs(self) -> u32 {
        match self {
            StorageFault::Unreachable | StorageFault::Busy => 1,
            StorageFault::NoSpace | StorageFault::ReadOnly | StorageFault::Aborted => 30,
        }
    }
}

impl std::fmt::Display for StorageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StorageFault::Unreachable => "database unreachable",
            StorageFault::NoSpace => "database full",
            StorageFault::ReadOnly => "database read-only",
            StorageFault::Aborted => "database ended the transaction",
            StorageFault::Busy => "database busy",
        })
    }
}

/// Recognises a fault in an error message of libpq, PostgreSQL or SQLite.
pub fn classify_message(message: &str) -> Option<StorageFault> {
    const NO_SPACE: &[&str] = &[
        "database or disk is full", // SQLITE_FULL
        "no space left on device",  // ENOSPC, PostgreSQL 53100
        "could not extend file",    // PostgreSQL disk full on a table
        "could not write to file",  // PostgreSQL temp or WAL files
        "disk quota exceeded",      // EDQUOT
    ];
    const READ_ONLY: &[&str] = &[
        "attempt to write a readonly database", // SQLITE_READONLY
        "read-only file system",                // EROFS
        "read-only transaction",                // a PostgreSQL standby
    ];
    const UNREACHABLE: &[&str] = &[
        "terminating connection due to administrator command",
        "terminating connection due to",
        "server closed the connection unexpectedly",
        "no connection to the server",
        "connection to server",
        "could not connect to server",
        "connection refused",
        "could not receive data from server",
        "could not send data to server",
        "ssl connection has been closed unexpectedly",
        "ssl syscall error",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "the database system is not yet accepting connections",
        "timeout expired",
        "unable to open database file", // SQLITE_CANTOPEN
        "disk i/o error",               // SQLITE_IOERR
    ];
    const BUSY: &[&str] = &[
        "database is locked", // SQLITE_BUSY after busy_timeout
        "database table is locked",
    ];
    let message = message.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| message.contains(n));
    if any(NO_SPACE) {
        Some(StorageFault::NoSpace)
    } else if any(READ_ONLY) {
        Some(StorageFault::ReadOnly)
    } else if any(UNREACHABLE) {
        Some(StorageFault::Unreachable)
    } else if any(BUSY) {
        Some(StorageFault::Busy)
    } else {
        None
    }
}

/// Recognises a fault in a diesel error (a failed commit by its cause).
pub fn classify(error: &Error) -> Option<StorageFault> {
    match error {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            info,
        ) => Some(classify_message(info.message()).unwrap_or(StorageFault::Unreachable)),
        Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => {
            Some(StorageFault::ReadOnly)
        }
        Error::DatabaseError(_, info) => classify_message(info.message()),
        Error::RollbackErrorOnCommit {
            commit_error,
            rollback_error,
        } => classify(commit_error).or_else(|| classify(rollback_error)),
        _ => None,
    }
}

/// Recognises a fault in an error of the pool (connecting, or its setup).
pub fn classify_pool_error(error: &diesel::r2d2::Error) -> Option<StorageFault> {
    match error {
        diesel::r2d2::Error::QueryError(error) => classify(error),
        diesel::r2d2::Error::ConnectionError(error) => classify_connection_error(error),
    }
}

pub fn classify_connection_error(error: &diesel::ConnectionError) -> Option<StorageFault> {
    match error {
        diesel::ConnectionError::BadConnection(message) => {
            Some(classify_message(message).unwrap_or(StorageFault::Unreachable))
        }
        diesel::ConnectionError::CouldntSetupConfiguration(error) => classify(error),
        _ => None,
    }
}

thread_local! {
    /// The last fault met on this thread (see [`note`]).
    static LAST_FAULT: RefCell<Option<(StorageFault, String)>> = const { RefCell::new(None) };
}

/// Remembers a fault met while running storage work on this thread, so
/// that [`super::Database::run`] reports it as the cause even when later
/// statements (a rollback, the transaction manager) failed differently.
pub(crate) fn note(fault: StorageFault, cause: &str) {
    LAST_FAULT.with(|last| *last.borrow_mut() = Some((fault, cause.to_owned())));
}

/// Whether `error` says the database ended the transaction by itself:
/// SQLite rolls back on its own after a full disk, an I/O error or running
/// out of memory, and diesel then reports the savepoint or transaction it
/// can no longer find instead of the cause.
pub(crate) fn ended_by_the_database(error: &Error) -> bool {
    match error {
        Error::NotInTransaction | Error::BrokenTransactionManager => true,
        Error::DatabaseError(_, info) => info.message().contains("no such savepoint"),
        Error::RollbackErrorOnCommit {
            commit_error,
            rollback_error,
        } => ended_by_the_database(commit_error) || ended_by_the_database(rollback_error),
        _ => false,
    }
}

thread_local! {
    static SUSPECT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Remembers that the database ended a transaction by itself on this thread.
pub(crate) fn note_suspect(cause: &str) {
    SUSPECT.with(|s| *s.borrow_mut() = Some(cause.to_owned()));
}

pub(crate) fn take_suspect() -> Option<String> {
    SUSPECT.with(|s| s.borrow_mut().take())
}

/// Finds out why SQLite ended a transaction by itself when diesel lost the
/// cause: tries to write (and sync) a little file beside the database.
/// A full or read-only file system is a fault; anything else is not.
pub(crate) fn diagnose_disk(
    dir: &std::path::Path,
    suspect: &str,
) -> Option<(StorageFault, String)> {
    use std::io::Write;
    let path = dir.join(format!(".tracewire-space-check-{}", std::process::id()));
    // 4 MiB: about what a large batch needs in the WAL; less free space
    // than that is "full" for a database taking 10,000-record batches.
    let written = std::fs::File::create(&path).and_then(|mut file| {
        let chunk = [0u8; 64 * 1024];
        for _ in 0..64 {
            file.write_all(&chunk)?;
        }
        file.sync_all()
    });
    let _ = std::fs::remove_file(&path);
    let error = written.err()?;
    let fault = match error.raw_os_error() {
        Some(28) | Some(122) => StorageFault::NoSpace, // ENOSPC, EDQUOT
        Some(30) => StorageFault::ReadOnly,            // EROFS
        _ => classify_message(&error.to_string())?,
    };
    Some((
        fault,
        format!("{error} (writing beside the database; diesel reported: {suspect})"),
    ))
}

/// Takes the fault noted on this thread, if any.
pub(crate) fn take_noted() -> Option<(StorageFault, String)> {
    LAST_FAULT.with(|last| last.borrow_mut().take())
}

/// Whether the database is known to be unreachable; shared by the pool's
/// error handler, `Database::run` and the probe.
pub struct Health {
    down: AtomicBool,
    probing: AtomicBool,
    since: Mutex<Option<Instant>>,
    probe: Box<dyn Fn() -> Result<(), String> + Send + Sync>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("down", &self.is_down())
            .finish()
    }
}

impl Health {
    /// `probe` connects afresh and runs `SELECT 1`.
    pub fn new(probe: Box<dyn Fn() -> Result<(), String> + Send + Sync>) -> Arc<Health> {
        Arc::new(Health {
            down: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            since: Mutex::new(None),
            probe,
        })
    }

    /// A probe that connects to `connection_string` (on PostgreSQL with a
    /// connect timeout, so that an unreachable host cannot stall it).
    pub fn connecting_to(backend: super::Backend, connection_string: String) -> Arc<Health> {
        let probe: Box<dyn Fn() -> Result<(), String> + Send + Sync> = match backend {
            super::Backend::Sqlite => Box::new(move || {
                let mut conn = diesel::SqliteConnection::establish(&connection_string)
                    .map_err(|e| e.to_string())?;
                conn.batch_execute("SELECT 1").map_err(|e| e.to_string())
            }),
            super::Backend::Postgres => {
                let url = with_connect_timeout(&connection_string, 2);
                Box::new(move || {
                    let mut conn =
                        diesel::PgConnection::establish(&url).map_err(|e| e.to_string())?;
                    conn.batch_execute("SELECT 1").map_err(|e| e.to_string())
                })
            }
        };
        Health::new(probe)
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// How long the database has been known down, if it is.
    pub fn down_for(&self) -> Option<Duration> {
        if !self.is_down() {
            return None;
        }
        let since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        since.map(|at| at.elapsed())
    }

    /// Marks the database unreachable (logged once per outage) and starts
    /// the probe that marks it up again.
    pub fn trip(self: &Arc<Self>, cause: &str) {
        if self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        *self.since.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        tracing::error!(
            %cause,
            "database unreachable: answering 503 at once until it is back (checking every {} ms)",
            PROBE_INTERVAL.as_millis()
        );
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let health = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("tracewire-db-probe".into())
            .spawn(move || loop {
                std::thread::sleep(PROBE_INTERVAL);
                let Some(health) = health.upgrade() else {
                    return;
                };
                if (health.probe)().is_ok() {
                    let outage = health.down_for().unwrap_or_default();
                    health.probing.store(false, Ordering::Release);
                    health.down.store(false, Ordering::Release);
                    tracing::warn!(
                        outage_ms = outage.as_millis() as u64,
                        "database reachable again"
                    );
                    return;
                }
            });
        if spawned.is_err() {
            // No probe: let requests try the database themselves.
            self.probing.store(false, Ordering::Release);
            self.down.store(false, Ordering::Release);
        }
    }
}

/// The pool's error handler: failing to connect trips the breaker. A
/// pooled connection found dead on checkout does not (after an outage the
/// pool still holds connections to the old server process: they are
/// dropped and replaced); nor does failing to set a new connection up.
#[derive(Debug)]
pub(crate) struct PoolErrors(pub Arc<Health>);

impl diesel::r2d2::HandleError<diesel::r2d2::Error> for PoolErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        match (&error, classify_pool_error(&error)) {
            (diesel::r2d2::Error::ConnectionError(_), Some(StorageFault::Unreachable)) => {
                self.0.trip(&error.to_string())
            }
            (_, fault) => tracing::debug!(?fault, %error, "database connection dropped"),
        }
    }
}

/// `url` with libpq's `connect_timeout` set, unless it already has one.
pub(crate) fn with_connect_timeout(url: &str, secs: u64) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={secs}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_recognised_in_real_messages() {
        let cases = [
            (
                "terminating connection due to administrator command",
                Some(StorageFault::Unreachable),
            ),
            (
                "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally",
                Some(StorageFault::Unreachable),
            ),
            (
                "connection to server at \"127.0.0.1\", port 5999 failed: Connection refused",
                Some(StorageFault::Unreachable),
            ),
            ("FATAL:  the database system is shutting down", Some(StorageFault::Unreachable)),
            ("database or disk is full", Some(StorageFault::NoSpace)),
            (
                "could not extend file \"base/16384/16385\": No space left on device",
                Some(StorageFault::NoSpace),
            ),
            ("attempt to write a readonly database", Some(StorageFault::ReadOnly)),
            (
                "cannot execute INSERT in a read-only transaction",
                Some(StorageFault::ReadOnly),
            ),
            ("database is locked", Some(StorageFault::Busy)),
            ("duplicate key value violates unique constraint", None),
            ("syntax error at or near \"SELEC\"", None),
        ];
        for (message, fault) in cases {
            assert_eq!(classify_message(message), fault, "{message}");
        }
    }

    #[test]
    fn connect_timeout_is_added_once() {
        assert_eq!(
            with_connect_timeout("postgres://h/db", 2),
            "postgres://h/db?connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?sslmode=require", 2),
            "postgres://h/db?sslmode=require&connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?connect_timeout=9", 2),
            "postgres://h/db?connect_timeout=9"
        );
    }

    #[test]
    fn the_breaker_opens_once_and_the_probe_closes_it() {
        let answering = Arc::new(AtomicBool::new(false));
        let health = Health::new(Box::new({
            let answering = answering.clone();
            move || {
                if answering.load(Ordering::Acquire) {
                    Ok(())
                } else {
                    Err("connection refused".into())
                }
            }
        }));
        assert!(!health.is_down());
        health.trip("connection refused");
        health.trip("connection refused");
        assert!(health.is_down());
        std::thread::sleep(PROBE_INTERVAL * 3);
        assert!(health.is_down(), "the probe failed, so still down");
        answering.store(true, Ordering::Release);
        let deadline = Instant::now() + Duration::from_secs(10);
        while health.is_down() {
            assert!(
                Instant::now() < deadline,
                "the probe never closed the breaker"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

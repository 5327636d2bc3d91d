//! The audit log's rows and the append that keeps its hash chain.
use super::schema::{audit_head, audit_log};
use super::{DbConnection, StorageError, StorageResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub seq: i64,
    pub at: NaiveDateTime,
    pub organization: String,
    pub client: String,
    pub action: String,
    /// JSON array of record ids.
    pub record_ids: String,
    pub result_count: i64,
    /// JSON object with the request's particulars (filters, …).
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Appends `rows` after the current tip: one bump of the head for all of
/// them, then each row gets its sequence number and previous hash in order,
/// and `seal` computes its hash. Bumping the head first takes its row lock
/// (PostgreSQL) or the write lock (SQLite), so concurrent appends queue
/// instead of forking the chain. Runs in the caller's transaction when there
/// is one. `relaxed` lets the commit skip waiting for the WAL flush (for
/// read entries only; see `crate::audit::record_read`).
pub fn append_many(
    conn: &mut DbConnection,
    relaxed: bool,
    mut rows: Vec<AuditRow>,
    seal: fn(&AuditRow) -> String,
) -> StorageResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    super::replicas::writes_on_primary(conn, |conn| {
        conn.transaction(|conn| {
        if relaxed {
            relax_commit_durability(conn)?;
        }
        let (last_seq, mut prev_hash): (i64, String) = diesel::update(audit_head::table.find(1))
            .set(audit_head::seq.eq(audit_head::seq + rows.len() as i64))
            .returning((audit_head::seq, audit_head::hash))
            .get_result(conn)?;
        let first_seq = last_seq - rows.len() as i64 + 1;
        for (offset, row) in rows.iter_mut().enumerate() {
            row.seq = first_seq + offset as i64;
            row.prev_hash = std::mem::take(&mut prev_hash);
            row.hash = seal(row);
            prev_hash = row.hash.clone();
        }
        for chunk in rows.chunks(super::records::INSERT_CHUNK / 4) {
            on_backend!(conn, c => diesel::insert_into(audit_log::table).values(chunk).execute(c))?;
        }
        diesel::update(audit_head::table.find(1))
            .set(audit_head::hash.eq(&prev_hash))
            .execute(conn)?;
        Ok(())
    })
    })
}

/// Read entries waiting to be appended together (group commit).
///
/// Every audited read used to take the head's lock for its own transaction,
/// so concurrent reads queued there. Now a read adds its entry here and
/// waits to lead: the leader appends every entry waiting at that moment in
/// one transaction, with its own connection, and the others find theirs
/// already written. Each read still returns only after its entry has
/// committed (or with the append's error). One queue per database.
#[derive(Default)]
pub struct ReadEntryQueue {
    waiting: Mutex<Waiting>,
    leader: Mutex<()>,
}

#[derive(Default)]
struct Waiting {
    entries: Vec<(u64, AuditRow)>,
    last_ticket: u64,
    /// Every ticket up to this one has been appended (or has failed).
    done_through: u64,
    /// Tickets whose batch failed, with the error, until their reader looks.
    failed: HashMap<u64, (Option<super::health::StorageFault>, String)>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves consistent data (plain pushes
    // and counters), so a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ReadEntryQueue {
    /// Appends `row` (its sequence number and hashes are filled in) with
    /// whatever other entries are waiting; returns once it has committed.
    pub fn append(
        &self,
        conn: &mut DbConnection,
        row: AuditRow,
        seal: fn(&AuditRow) -> String,
    ) -> StorageResult<()> {
        let ticket = {
            let mut waiting = locked(&self.waiting);
            waiting.last_ticket += 1;
            let ticket = waiting.last_ticket;
            waiting.entries.push((ticket, row));
            ticket
        };
        let _leading = locked(&self.leader);
        let batch = {
            let mut waiting = locked(&self.waiting);
            if ticket <= waiting.done_through {
                return match waiting.failed.remove(&ticket) {
                    Some((Some(fault), error)) => Err(StorageError::Fault {
                        fault,
                        cause: format!("audit entry not written: {error}"),
                    }),
                    Some((None, error)) => Err(StorageError::Unavailable(format!(
                        "audit entry not written: {error}"
                    ))),
                    None => Ok(()),
                };
            }
            std::mem::take(&mut waiting.entries)
        };
        let tickets: Vec<u64> = batch.iter().map(|(t, _)| *t).collect();
        let rows = batch.into_iter().map(|(_, row)| row).collect();
        let result = append_many(conn, true, rows, seal);
        let mut waiting = locked(&self.waiting);
        waiting.done_through = tickets.last().copied().unwrap_or(ticket);
        if let Err(error) = &result {
            let fault = match error {
                StorageError::Fault { fault, .. } => Some(*fault),
                _ => None,
            };
            for other in tickets.into_iter().filter(|t| *t != ticket) {
                waiting.failed.insert(other, (fault, error.to_string()));
            }
        }
        result
    }
}

thread_local! {
    static READ_QUEUE: RefCell<Option<Arc<ReadEntryQueue>>> = const { RefCell::new(None) };
}

/// Runs `work` with `queue` as this thread's read-entry queue (see
/// [`current_read_queue`]); `Database::run` does this for every request.
pub fn with_read_queue<T>(queue: &Arc<ReadEntryQueue>, work: impl FnOnce() -> T) -> T {
    let previous = READ_QUEUE.with(|q| q.replace(Some(queue.clone())));
    let result = work();
    READ_QUEUE.with(|q| *q.borrow_mut() = previous);
    result
}

/// The read-entry queue of the database this thread is working for, if
/// any (none for the CLI, which appends directly).
pub fn current_read_queue() -> Option<Arc<ReadEntryQueue>> {
    READ_QUEUE.with(|q| q.borrow().clone())
}

/// Lets the current transaction commit without waiting for the WAL flush
/// (PostgreSQL; SQLite in WAL mode with `synchronous = NORMAL` already does not sync each commit).
pub fn relax_commit_durability(conn: &mut DbConnection) -> StorageResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        use diesel::connection::SimpleConnection;
        pg.batch_execute("SET LOCAL synchronous_commit = off")?;
    }
    Ok(())
}

/// Runs `read` in one read-only snapshot of the database: a REPEATABLE
/// READ, READ ONLY transaction on PostgreSQL, a (deferred) read transaction
/// on SQLite, whose WAL snapshot is fixed by its first read. Appends that
/// commit meanwhile are not seen, and none of them is blocked.
pub fn in_snapshot<T>(
    conn: &mut DbConnection,
    read: impl FnOnce(&mut DbConnection) -> StorageResult<T>,
) -> StorageResult<T> {
    conn.transaction(|conn| {
        if let DbConnection::Postgres(pg) = conn {
            use diesel::connection::SimpleConnection;
            pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        read(conn)
    })
}

/// Entries with `seq > after`, in order, at most `limit`.
pub fn entries_after(
    conn: &mut DbConnection,
    after: i64,
    limit: i64,
) -> StorageResult<Vec<AuditRow>> {
    Ok(audit_log::table
        .filter(audit_log::seq.gt(after))
        .order(audit_log::seq)
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?)
}

/// The chain's tip as recorded in the head: (sequence, hash).
pub fn head(conn: &mut DbConnection) -> StorageResult<(i64, String)> {
    Ok(audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?)
}

/// Administrative entries (`admin.…` and `partner.…` actions) whose
/// `record_ids` name `marker` (see `crate::audit::concerns`), oldest first.
pub fn admin_entries_naming(
    conn: &mut DbConnection,
    marker: &str,
    limit: i64,
) -> StorageResult<Vec<AuditRow>> {
    let quoted = format!("%\"{marker}\"%");
    Ok(audit_log::table
        .filter(
            audit_log::action
                .like("admin.%")
                .or(audit_log::action.like("partner.%")),
        )
        .filter(audit_log::record_ids.like(quoted))
        .order(audit_log::seq)
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?)
}

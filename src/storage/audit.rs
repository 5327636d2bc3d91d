//! The audit log's rows and the append that keeps its hash chain.
use super::schema::{audit_head, audit_log};
use super::{DbConnection, StorageResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

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

/// Appends an entry after the current tip. `finish` receives the new
/// sequence number and the previous hash and returns the complete row.
/// Bumping the head first takes its row lock (PostgreSQL) or the write
/// lock (SQLite), so concurrent appends queue instead of forking the chain;
/// the lock is held for three statements and the commit. Runs in the
/// caller's transaction when there is one. `relaxed` lets the commit skip
/// waiting for the WAL flush (for read entries only; see
/// `crate::audit::record_read`).
pub fn append(
    conn: &mut DbConnection,
    relaxed: bool,
    finish: impl FnOnce(i64, &str) -> AuditRow,
) -> StorageResult<AuditRow> {
    conn.transaction(|conn| {
        if relaxed {
            relax_commit_durability(conn)?;
        }
        let (seq, prev_hash): (i64, String) = diesel::update(audit_head::table.find(1))
            .set(audit_head::seq.eq(audit_head::seq + 1))
            .returning((audit_head::seq, audit_head::hash))
            .get_result(conn)?;
        let row = finish(seq, &prev_hash);
        diesel::insert_into(audit_log::table)
            .values(&row)
            .execute(conn)?;
        diesel::update(audit_head::table.find(1))
            .set(audit_head::hash.eq(&row.hash))
            .execute(conn)?;
        Ok(row)
    })
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

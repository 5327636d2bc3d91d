//! The change feed's rows, and the write lock that keeps them in order.
//!
//! Every writing transaction calls [`lock_for_write`] first and
//! [`append`] before it commits. Sequence numbers come from `feed_head`,
//! whose lock the transaction holds until it ends, so a transaction can only
//! take numbers after every earlier holder has committed or rolled back:
//! numbers become visible in order and with no gaps, and a reader asking for
//! `seq > cursor` never skips one that commits later.
use super::schema::{changes, feed_head};
use super::{DbConnection, StorageResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub const EVENT_REVISION: &str = "revision";
pub const EVENT_REVOCATION: &str = "revocation";
pub const EVENT_SIGHTING: &str = "sighting";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = changes)]
pub struct ChangeRow {
    pub seq: i64,
    pub record_id: String,
    pub revision: i32,
    /// [`EVENT_REVISION`], [`EVENT_REVOCATION`] or [`EVENT_SIGHTING`].
    pub event: String,
    pub at: NaiveDateTime,
}

/// A change to append: which revision of which record, and what it was.
pub struct NewChange<'a> {
    pub record_id: &'a str,
    pub revision: i32,
    pub event: &'static str,
}

/// Takes the write lock at the start of a writing transaction. On SQLite a
/// transaction that reads before it writes fails at once with "database is
/// locked" when another writer got in between (the busy timeout does not
/// apply); writing first makes it wait its turn instead. On PostgreSQL the
/// row lock is taken later, by [`append`], so that validation reads of
/// concurrent writers still overlap. `writer` is the writing organization
/// (its position is stored for read-your-writes, see `super::replicas`).
pub fn lock_for_write(conn: &mut DbConnection, writer: &str) -> StorageResult<()> {
    super::replicas::wrote(writer);
    if let DbConnection::Sqlite(_) = conn {
        diesel::update(feed_head::table.find(1))
            .set(feed_head::seq.eq(feed_head::seq))
            .execute(conn)?;
    }
    Ok(())
}

/// Appends `events` to the feed with the next sequence numbers (call inside
/// the writing transaction, after its other writes).
pub fn append(
    conn: &mut DbConnection,
    events: &[NewChange<'_>],
    at: NaiveDateTime,
) -> StorageResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let last: i64 = diesel::update(feed_head::table.find(1))
        .set(feed_head::seq.eq(feed_head::seq + events.len() as i64))
        .returning(feed_head::seq)
        .get_result(conn)?;
    let first = last - events.len() as i64 + 1;
    let rows: Vec<ChangeRow> = events
        .iter()
        .enumerate()
        .map(|(i, e)| ChangeRow {
            seq: first + i as i64,
            record_id: e.record_id.to_owned(),
            revision: e.revision,
            event: e.event.to_owned(),
            at,
        })
        .collect();
    for chunk in rows.chunks(super::records::INSERT_CHUNK) {
        match conn {
            DbConnection::Sqlite(c) => diesel::insert_into(changes::table).values(chunk).execute(c),
            DbConnection::Postgres(c) => {
                diesel::insert_into(changes::table).values(chunk).execute(c)
            }
        }?;
    }
    Ok(())
}

/// Changes after `after`, in order, at most `limit`.
pub fn after(conn: &mut DbConnection, after: i64, limit: i64) -> StorageResult<Vec<ChangeRow>> {
    Ok(changes::table
        .filter(changes::seq.gt(after))
        .order(changes::seq)
        .limit(limit)
        .select(ChangeRow::as_select())
        .load(conn)?)
}

/// Changes from `from` on (inclusive), in order, at most `limit`: of one
/// record only when `record_id` is given, and only those stored after
/// `added_after` when it is given (TAXII paging).
pub fn from_seq(
    conn: &mut DbConnection,
    from: i64,
    record_id: Option<&str>,
    added_after: Option<NaiveDateTime>,
    limit: i64,
) -> StorageResult<Vec<ChangeRow>> {
    let mut query = changes::table
        .filter(changes::seq.ge(from))
        .order(changes::seq)
        .limit(limit)
        .select(ChangeRow::as_select())
        .into_boxed();
    if let Some(id) = record_id {
        query = query.filter(changes::record_id.eq(id.to_owned()));
    }
    if let Some(at) = added_after {
        query = query.filter(changes::at.gt(at));
    }
    Ok(query.load(conn)?)
}

/// The last sequence number handed out.
pub fn head(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(feed_head::table
        .find(1)
        .select(feed_head::seq)
        .first(conn)?)
}

//! Alerts and the position of the change-feed consumer that makes them.
//!
//! The consumer reads changes after [`position`], and writes their alerts
//! in one transaction that first moves the position on with
//! [`advance`] (a compare-and-set): a second server that read the same
//! changes fails the compare and writes nothing, and a crash before the
//! commit leaves the position where it was. So every change is turned into
//! alerts exactly once.
use super::schema::{alert_consumer, alerts};
use super::{DbConnection, StorageResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

const CHUNK: usize = 1000;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = alerts)]
pub struct AlertRow {
    pub id: String,
    pub organization_id: String,
    pub change_seq: i64,
    pub record_hash: String,
    pub kind: String,
    /// The alert as its watcher sees it, sealed.
    pub sealed: String,
    pub created_at: NaiveDateTime,
    pub acknowledged_at: Option<NaiveDateTime>,
}

/// The last change the consumer has turned into alerts.
pub fn position(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(alert_consumer::table
        .find(1)
        .select(alert_consumer::position)
        .first(conn)?)
}

/// Moves the position from `from` to `to`; false when another consumer
/// moved it first (then write nothing). Call first in the transaction: on
/// SQLite it takes the write lock, on PostgreSQL the row lock.
pub fn advance(conn: &mut DbConnection, from: i64, to: i64) -> StorageResult<bool> {
    let updated = diesel::update(
        alert_consumer::table
            .find(1)
            .filter(alert_consumer::position.eq(from)),
    )
    .set(alert_consumer::position.eq(to))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn insert(conn: &mut DbConnection, rows: &[AlertRow]) -> StorageResult<()> {
    for chunk in rows.chunks(CHUNK) {
        on_backend!(conn, c => diesel::insert_into(alerts::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// The (organization, record hash) pairs among `record_hashes` that have alerts.
pub fn alerted(
    conn: &mut DbConnection,
    record_hashes: &[String],
) -> StorageResult<Vec<(String, String)>> {
    let mut found = Vec::new();
    for chunk in record_hashes.chunks(CHUNK) {
        found.extend(
            alerts::table
                .filter(alerts::record_hash.eq_any(chunk))
                .select((alerts::organization_id, alerts::record_hash))
                .distinct()
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(found)
}

/// `organization`'s alerts after change `after`, oldest first, at most `limit`.
pub fn list(
    conn: &mut DbConnection,
    organization: &str,
    after: i64,
    unacknowledged_only: bool,
    limit: i64,
) -> StorageResult<Vec<AlertRow>> {
    let mut query = alerts::table
        .filter(alerts::organization_id.eq(organization))
        .filter(alerts::change_seq.gt(after))
        .order(alerts::change_seq)
        .limit(limit)
        .select(AlertRow::as_select())
        .into_boxed();
    if unacknowledged_only {
        query = query.filter(alerts::acknowledged_at.is_null());
    }
    Ok(query.load(conn)?)
}

pub fn find(conn: &mut DbConnection, organization: &str, id: &str) -> StorageResult<AlertRow> {
    Ok(alerts::table
        .find(id)
        .filter(alerts::organization_id.eq(organization))
        .select(AlertRow::as_select())
        .first(conn)?)
}

/// The alerts among `ids` (any order).
pub fn find_all(conn: &mut DbConnection, ids: &[String]) -> StorageResult<Vec<AlertRow>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        rows.extend(
            alerts::table
                .filter(alerts::id.eq_any(chunk))
                .select(AlertRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// Marks `organization`'s alerts among `ids` acknowledged (those not yet);
/// how many of `ids` are its alerts.
pub fn acknowledge(
    conn: &mut DbConnection,
    organization: &str,
    ids: &[String],
    at: NaiveDateTime,
) -> StorageResult<i64> {
    diesel::update(
        alerts::table
            .filter(alerts::organization_id.eq(organization))
            .filter(alerts::id.eq_any(ids))
            .filter(alerts::acknowledged_at.is_null()),
    )
    .set(alerts::acknowledged_at.eq(at))
    .execute(conn)?;
    Ok(alerts::table
        .filter(alerts::organization_id.eq(organization))
        .filter(alerts::id.eq_any(ids))
        .count()
        .get_result(conn)?)
}

/// How many alerts `organization` has, and how many are unacknowledged.
pub fn counts(conn: &mut DbConnection, organization: &str) -> StorageResult<(i64, i64)> {
    let all = alerts::table
        .filter(alerts::organization_id.eq(organization))
        .count()
        .get_result(conn)?;
    let open = alerts::table
        .filter(alerts::organization_id.eq(organization))
        .filter(alerts::acknowledged_at.is_null())
        .count()
        .get_result(conn)?;
    Ok((all, open))
}

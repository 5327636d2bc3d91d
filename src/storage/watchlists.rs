//! Watch entries: an organization's watched addresses, by keyed hash only
//! (see `crate::alerts::keys`). Nothing here ever holds an address in the
//! clear; the address as typed and its label are sealed by the caller.
use super::schema::{watch_entries, watch_keys};
use super::{DbConnection, StorageResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Rows per statement (below both backends' bind-parameter limits).
const CHUNK: usize = 1000;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = watch_entries)]
pub struct WatchEntryRow {
    pub organization_id: String,
    pub entry_hash: String,
    pub sealed: String,
    pub after_seq: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = watch_keys)]
pub struct WatchKeyRow {
    pub key_hash: String,
    pub organization_id: String,
    pub entry_hash: String,
    pub after_seq: i64,
}

/// How many entries `organization` watches.
pub fn count(conn: &mut DbConnection, organization: &str) -> StorageResult<i64> {
    Ok(watch_entries::table
        .filter(watch_entries::organization_id.eq(organization))
        .count()
        .get_result(conn)?)
}

/// Which of `hashes` `organization` already watches.
pub fn existing(
    conn: &mut DbConnection,
    organization: &str,
    hashes: &[String],
) -> StorageResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in hashes.chunks(CHUNK) {
        found.extend(
            watch_entries::table
                .filter(watch_entries::organization_id.eq(organization))
                .filter(watch_entries::entry_hash.eq_any(chunk))
                .select(watch_entries::entry_hash)
                .load::<String>(conn)?,
        );
    }
    Ok(found)
}

/// Inserts entries and their keys (none of the entries may exist yet: call
/// inside a transaction, after [`existing`]).
pub fn insert(
    conn: &mut DbConnection,
    entries: &[WatchEntryRow],
    keys: &[WatchKeyRow],
) -> StorageResult<()> {
    for chunk in entries.chunks(CHUNK) {
        on_backend!(conn, c => diesel::insert_into(watch_entries::table).values(chunk).execute(c))?;
    }
    for chunk in keys.chunks(CHUNK) {
        on_backend!(conn, c => diesel::insert_into(watch_keys::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// Removes `organization`'s entries among `hashes`; how many there were.
pub fn remove(
    conn: &mut DbConnection,
    organization: &str,
    hashes: &[String],
) -> StorageResult<usize> {
    let mut removed = 0;
    for chunk in hashes.chunks(CHUNK) {
        diesel::delete(
            watch_keys::table
                .filter(watch_keys::organization_id.eq(organization))
                .filter(watch_keys::entry_hash.eq_any(chunk)),
        )
        .execute(conn)?;
        removed += diesel::delete(
            watch_entries::table
                .filter(watch_entries::organization_id.eq(organization))
                .filter(watch_entries::entry_hash.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    Ok(removed)
}

/// `organization`'s entries after `after` (by hash), at most `limit`.
pub fn list(
    conn: &mut DbConnection,
    organization: &str,
    after: Option<&str>,
    limit: i64,
) -> StorageResult<Vec<WatchEntryRow>> {
    let mut query = watch_entries::table
        .filter(watch_entries::organization_id.eq(organization))
        .order(watch_entries::entry_hash)
        .limit(limit)
        .select(WatchEntryRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(watch_entries::entry_hash.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// `organization`'s entries among `hashes`.
pub fn entries(
    conn: &mut DbConnection,
    organization: &str,
    hashes: &[String],
) -> StorageResult<Vec<WatchEntryRow>> {
    let mut rows = Vec::new();
    for chunk in hashes.chunks(CHUNK) {
        rows.extend(
            watch_entries::table
                .filter(watch_entries::organization_id.eq(organization))
                .filter(watch_entries::entry_hash.eq_any(chunk))
                .select(WatchEntryRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// Every watch key among `key_hashes`, of every organization.
pub fn matching(conn: &mut DbConnection, key_hashes: &[String]) -> StorageResult<Vec<WatchKeyRow>> {
    let mut rows = Vec::new();
    for chunk in key_hashes.chunks(CHUNK) {
        rows.extend(
            watch_keys::table
                .filter(watch_keys::key_hash.eq_any(chunk))
                .select(WatchKeyRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

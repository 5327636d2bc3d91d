//! Idempotency keys of batch writes: which records a keyed request created.
use super::schema::idempotency_keys;
use super::{DbConnection, StorageResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub organization_id: String,
    pub idempotency_key: String,
    /// SHA-256 of the request body, hex: the same key with another body is refused.
    pub request_hash: String,
    /// JSON array of the ids the request created, in order.
    pub record_ids: String,
    pub created_at: NaiveDateTime,
}

pub fn find(
    conn: &mut DbConnection,
    organization: &str,
    key: &str,
) -> StorageResult<Option<IdempotencyRow>> {
    Ok(idempotency_keys::table
        .find((organization, key))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .optional()?)
}

/// Stores a key (inside the write's transaction). A key stored concurrently
/// by another request is a unique violation: [`super::StorageError::Conflict`].
pub fn insert(conn: &mut DbConnection, row: &IdempotencyRow) -> StorageResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Forgets keys stored before `cutoff`.
pub fn purge_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> StorageResult<usize> {
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
            .execute(conn)?,
    )
}

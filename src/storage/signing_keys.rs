//! The hub's token signing keys. Stored in the database so that every
//! server of a deployment signs and verifies with the same set.
use super::schema::signing_keys;
use super::{now, DbConnection, StorageResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub private_key_pem: String,
    pub public_jwk: String,
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, row: &SigningKeyRow) -> StorageResult<()> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Keys still useful: not retired, or retired after `retired_after` (their
/// tokens may still be valid). Newest first.
pub fn list_usable(
    conn: &mut DbConnection,
    retired_after: NaiveDateTime,
) -> StorageResult<Vec<SigningKeyRow>> {
    Ok(signing_keys::table
        .filter(
            signing_keys::retired_at
                .is_null()
                .or(signing_keys::retired_at.gt(retired_after)),
        )
        .order(signing_keys::created_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// Adds `new` and retires every other active key, in one transaction.
pub fn rotate(conn: &mut DbConnection, new: &SigningKeyRow) -> StorageResult<()> {
    conn.transaction(|conn| {
        diesel::update(signing_keys::table.filter(signing_keys::retired_at.is_null()))
            .set(signing_keys::retired_at.eq(Some(now())))
            .execute(conn)?;
        insert(conn, new)
    })
}

/// Every key ever stored, retired ones included.
pub fn all(conn: &mut DbConnection) -> StorageResult<Vec<SigningKeyRow>> {
    Ok(signing_keys::table
        .order(signing_keys::created_at)
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// Replaces the stored form of a key's private part (when it is sealed anew).
pub fn set_private_key(conn: &mut DbConnection, kid: &str, stored: &str) -> StorageResult<()> {
    diesel::update(signing_keys::table.find(kid))
        .set(signing_keys::private_key_pem.eq(stored))
        .execute(conn)?;
    Ok(())
}

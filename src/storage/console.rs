//! Analyst console sessions and feed positions (see `crate::console`).
//! Sessions are found by the SHA-256 of their id; the id is never stored.
use super::schema::{console_feed_positions, console_sessions};
use super::{DbConnection, StorageResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A stored console session.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_sessions)]
pub struct SessionRow {
    /// SHA-256 of the session id, hex.
    pub id_hash: String,
    pub organization_id: String,
    pub client_id: String,
    /// SHA-256 of the DER of the certificate the session was made with, hex.
    pub certificate_fingerprint: String,
    /// The client's scopes when signing in (space-separated).
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

pub fn insert_session(conn: &mut DbConnection, row: &SessionRow) -> StorageResult<()> {
    diesel::insert_into(console_sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_session(conn: &mut DbConnection, id_hash: &str) -> StorageResult<Option<SessionRow>> {
    Ok(console_sessions::table
        .find(id_hash)
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn touch_session(
    conn: &mut DbConnection,
    id_hash: &str,
    at: NaiveDateTime,
) -> StorageResult<()> {
    diesel::update(console_sessions::table.find(id_hash))
        .set(console_sessions::last_seen_at.eq(at))
        .execute(conn)?;
    Ok(())
}

/// Deletes a session; returns whether it existed.
pub fn delete_session(conn: &mut DbConnection, id_hash: &str) -> StorageResult<bool> {
    Ok(diesel::delete(console_sessions::table.find(id_hash)).execute(conn)? > 0)
}

/// Deletes the sessions idle since before `idle_before` or made before
/// `created_before`; returns how many.
pub fn delete_expired(
    conn: &mut DbConnection,
    idle_before: NaiveDateTime,
    created_before: NaiveDateTime,
) -> StorageResult<usize> {
    Ok(diesel::delete(
        console_sessions::table.filter(
            console_sessions::last_seen_at
                .lt(idle_before)
                .or(console_sessions::created_at.lt(created_before)),
        ),
    )
    .execute(conn)?)
}

/// The feed cursor an API client's console user saw last, if any.
pub fn feed_position(conn: &mut DbConnection, client_id: &str) -> StorageResult<Option<String>> {
    Ok(console_feed_positions::table
        .find(client_id)
        .select(console_feed_positions::cursor)
        .first(conn)
        .optional()?)
}

/// Remembers the feed cursor of an API client's console user.
pub fn set_feed_position(
    conn: &mut DbConnection,
    client_id: &str,
    cursor: &str,
    at: NaiveDateTime,
) -> StorageResult<()> {
    conn.transaction(|conn| {
        let updated = diesel::update(console_feed_positions::table.find(client_id))
            .set((
                console_feed_positions::cursor.eq(cursor),
                console_feed_positions::updated_at.eq(at),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(console_feed_positions::table)
                .values((
                    console_feed_positions::client_id.eq(client_id),
                    console_feed_positions::cursor.eq(cursor),
                    console_feed_positions::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

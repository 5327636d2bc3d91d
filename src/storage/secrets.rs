//! Secrets shared by every server of a deployment (the key that seals
//! paging cursors), made by whichever server needs one first.
use super::schema::server_secrets;
use super::{now, DbConnection, StorageError, StorageResult};
use diesel::prelude::*;

/// The secret called `name`, made with `make` (hex text) and stored when
/// there is none yet. Servers starting at once agree on one: a concurrent
/// insert loses and reads the winner's.
pub fn get_or_create(
    conn: &mut DbConnection,
    name: &str,
    make: impl FnOnce() -> String,
) -> StorageResult<String> {
    let find = |conn: &mut DbConnection| -> StorageResult<Option<String>> {
        Ok(server_secrets::table
            .find(name)
            .select(server_secrets::secret)
            .first::<String>(conn)
            .optional()?)
    };
    if let Some(secret) = find(conn)? {
        return Ok(secret);
    }
    let inserted = diesel::insert_into(server_secrets::table)
        .values((
            server_secrets::name.eq(name),
            server_secrets::secret.eq(make()),
            server_secrets::created_at.eq(now()),
        ))
        .execute(conn);
    match inserted {
        Ok(_)
        | Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => find(conn)?.ok_or(StorageError::NotFound),
        Err(e) => Err(e.into()),
    }
}

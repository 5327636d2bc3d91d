//! TAXII status resources: what became of each POSTed envelope.
use super::schema::taxii_statuses;
use super::{DbConnection, StorageResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = taxii_statuses)]
pub struct StatusRow {
    pub id: String,
    /// The organization that posted the envelope: the only one that may read it.
    pub organization_id: String,
    pub created_at: NaiveDateTime,
    /// The status resource, JSON.
    pub body: String,
}

/// Stores a status (inside the transaction of the write it reports).
pub fn insert(conn: &mut DbConnection, row: &StatusRow) -> StorageResult<()> {
    diesel::insert_into(taxii_statuses::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The status `id` if `organization` posted it.
pub fn find(
    conn: &mut DbConnection,
    organization: &str,
    id: &str,
) -> StorageResult<Option<StatusRow>> {
    Ok(taxii_statuses::table
        .filter(taxii_statuses::id.eq(id))
        .filter(taxii_statuses::organization_id.eq(organization))
        .select(StatusRow::as_select())
        .first(conn)
        .optional()?)
}

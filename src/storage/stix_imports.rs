//! Which record each imported STIX object became, per importing
//! organization, and the object version that was applied last.
use super::schema::stix_imports;
use super::{DbConnection, StorageResult};
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = stix_imports)]
pub struct StixImportRow {
    pub organization_id: String,
    pub stix_id: String,
    pub record_id: String,
    /// The object's `modified` (or `created`) as it was posted.
    pub version: String,
}

/// The rows of `organization` for these STIX ids.
pub fn find(
    conn: &mut DbConnection,
    organization: &str,
    stix_ids: &[String],
) -> StorageResult<Vec<StixImportRow>> {
    let mut rows = Vec::new();
    // Well under PostgreSQL's bind-parameter limit per statement.
    for chunk in stix_ids.chunks(5000) {
        rows.extend(
            stix_imports::table
                .filter(stix_imports::organization_id.eq(organization))
                .filter(stix_imports::stix_id.eq_any(chunk))
                .select(StixImportRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// Records where these objects of `organization` went: the row of an
/// object already known is replaced.
pub fn save(
    conn: &mut DbConnection,
    organization: &str,
    rows: &[StixImportRow],
) -> StorageResult<()> {
    for chunk in rows.chunks(2000) {
        let ids: Vec<&str> = chunk.iter().map(|r| r.stix_id.as_str()).collect();
        diesel::delete(
            stix_imports::table
                .filter(stix_imports::organization_id.eq(organization))
                .filter(stix_imports::stix_id.eq_any(ids)),
        )
        .execute(conn)?;
        on_backend!(conn, inner => diesel::insert_into(stix_imports::table)
            .values(chunk)
            .execute(inner))?;
    }
    Ok(())
}

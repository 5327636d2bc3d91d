//! Communities: named groups of organizations, used as sharing audiences.
use super::schema::{communities, community_members};
use super::{now, DbConnection, StorageError, StorageResult};
use crate::domain::{CommunityId, OrganizationId};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = communities)]
struct CommunityRow {
    id: String,
    name: String,
    description: String,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Community {
    pub id: CommunityId,
    pub name: String,
    pub description: String,
    pub created_at: NaiveDateTime,
    /// Member organizations, sorted by id.
    pub members: Vec<OrganizationId>,
}

fn corrupt(e: crate::domain::DomainError) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

pub fn insert(
    conn: &mut DbConnection,
    id: &CommunityId,
    name: &str,
    description: &str,
) -> StorageResult<Community> {
    let row = CommunityRow {
        id: id.to_string(),
        name: name.to_owned(),
        description: description.to_owned(),
        created_at: now(),
    };
    diesel::insert_into(communities::table)
        .values(&row)
        .execute(conn)?;
    find(conn, id)
}

fn members_of(conn: &mut DbConnection, id: &str) -> StorageResult<Vec<OrganizationId>> {
    community_members::table
        .filter(community_members::community_id.eq(id))
        .order(community_members::organization_id)
        .select(community_members::organization_id)
        .load::<String>(conn)?
        .iter()
        .map(|m| OrganizationId::parse(m).map_err(corrupt))
        .collect()
}

fn with_members(conn: &mut DbConnection, row: CommunityRow) -> StorageResult<Community> {
    let members = members_of(conn, &row.id)?;
    Ok(Community {
        id: CommunityId::parse(&row.id).map_err(corrupt)?,
        name: row.name,
        description: row.description,
        created_at: row.created_at,
        members,
    })
}

pub fn find(conn: &mut DbConnection, id: &CommunityId) -> StorageResult<Community> {
    let row = communities::table
        .find(id.as_str())
        .select(CommunityRow::as_select())
        .first(conn)?;
    with_members(conn, row)
}

pub fn list(conn: &mut DbConnection) -> StorageResult<Vec<Community>> {
    let rows = communities::table
        .order(communities::id)
        .select(CommunityRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|row| with_members(conn, row))
        .collect()
}

/// Adds a member; adding an existing member is a no-op.
pub fn add_member(
    conn: &mut DbConnection,
    id: &CommunityId,
    organization: &OrganizationId,
) -> StorageResult<Community> {
    conn.transaction(|conn| {
        find(conn, id)?;
        let exists = community_members::table
            .find((id.as_str(), organization.as_str()))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if !exists {
            diesel::insert_into(community_members::table)
                .values((
                    community_members::community_id.eq(id.as_str()),
                    community_members::organization_id.eq(organization.as_str()),
                    community_members::added_at.eq(now()),
                ))
                .execute(conn)?;
        }
        find(conn, id)
    })
}

pub fn remove_member(
    conn: &mut DbConnection,
    id: &CommunityId,
    organization: &OrganizationId,
) -> StorageResult<Community> {
    let removed =
        diesel::delete(community_members::table.find((id.as_str(), organization.as_str())))
            .execute(conn)?;
    if removed == 0 {
        return Err(StorageError::NotFound);
    }
    find(conn, id)
}

/// The communities an organization belongs to.
pub fn memberships(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> StorageResult<Vec<CommunityId>> {
    community_members::table
        .filter(community_members::organization_id.eq(organization.as_str()))
        .order(community_members::community_id)
        .select(community_members::community_id)
        .load::<String>(conn)?
        .iter()
        .map(|c| CommunityId::parse(c).map_err(corrupt))
        .collect()
}

/// The members of a community with when each was added, oldest first.
pub fn members_since(
    conn: &mut DbConnection,
    id: &CommunityId,
) -> StorageResult<Vec<(OrganizationId, NaiveDateTime)>> {
    community_members::table
        .filter(community_members::community_id.eq(id.as_str()))
        .order((
            community_members::added_at,
            community_members::organization_id,
        ))
        .select((
            community_members::organization_id,
            community_members::added_at,
        ))
        .load::<(String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(m, at)| Ok((OrganizationId::parse(&m).map_err(corrupt)?, at)))
        .collect()
}

//! Partner organizations.
use super::schema::organizations;
use super::{now, DbConnection, StorageError, StorageResult};
use crate::domain::{OrganizationId, OrganizationType};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations)]
struct OrganizationRow {
    id: String,
    name: String,
    org_type: String,
    certificate_subject: Option<String>,
    created_at: NaiveDateTime,
    disabled_at: Option<NaiveDateTime>,
}

/// A registered partner organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub org_type: OrganizationType,
    /// Subject DN that maps certificates issued by the hub CA to this organization.
    pub certificate_subject: Option<String>,
    pub created_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
}

impl TryFrom<OrganizationRow> for Organization {
    type Error = StorageError;
    fn try_from(row: OrganizationRow) -> Result<Self, Self::Error> {
        Ok(Organization {
            id: OrganizationId::parse(&row.id).map_err(|e| StorageError::Corrupt(e.to_string()))?,
            org_type: row
                .org_type
                .parse()
                .map_err(|e: crate::domain::DomainError| StorageError::Corrupt(e.to_string()))?,
            name: row.name,
            certificate_subject: row.certificate_subject,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
        })
    }
}

/// What it takes to register an organization.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub id: OrganizationId,
    pub name: String,
    pub org_type: OrganizationType,
    pub certificate_subject: Option<String>,
}

pub fn insert(conn: &mut DbConnection, new: NewOrganization) -> StorageResult<Organization> {
    let row = OrganizationRow {
        id: new.id.to_string(),
        name: new.name,
        org_type: new.org_type.as_str().to_owned(),
        certificate_subject: new.certificate_subject,
        created_at: now(),
        disabled_at: None,
    };
    diesel::insert_into(organizations::table)
        .values(&row)
        .execute(conn)?;
    row.try_into()
}

pub fn find(conn: &mut DbConnection, id: &OrganizationId) -> StorageResult<Organization> {
    organizations::table
        .find(id.as_str())
        .select(OrganizationRow::as_select())
        .first(conn)?
        .try_into()
}

pub fn list(conn: &mut DbConnection) -> StorageResult<Vec<Organization>> {
    organizations::table
        .order(organizations::id)
        .select(OrganizationRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// The active organization whose subject mapping equals `subject`, if any.
pub fn find_by_subject(
    conn: &mut DbConnection,
    subject: &str,
) -> StorageResult<Option<Organization>> {
    organizations::table
        .filter(organizations::certificate_subject.eq(subject))
        .select(OrganizationRow::as_select())
        .first(conn)
        .optional()?
        .map(TryInto::try_into)
        .transpose()
}

/// Disables (or re-enables) an organization: its certificates and tokens stop working.
pub fn set_disabled(
    conn: &mut DbConnection,
    id: &OrganizationId,
    disabled: bool,
) -> StorageResult<Organization> {
    let value = disabled.then(now);
    let updated = diesel::update(organizations::table.find(id.as_str()))
        .set(organizations::disabled_at.eq(value))
        .execute(conn)?;
    if updated == 0 {
        return Err(StorageError::NotFound);
    }
    find(conn, id)
}

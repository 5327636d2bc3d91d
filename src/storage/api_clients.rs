//! API clients: the OAuth clients of an organization, each with its scopes.
use super::schema::{api_clients, organizations};
use super::{now, DbConnection, StorageError, StorageResult};
use crate::domain::{ClientId, OrganizationId, Scopes};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_clients)]
struct ApiClientRow {
    id: String,
    organization_id: String,
    name: String,
    scopes: String,
    created_at: NaiveDateTime,
    disabled_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: ClientId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub scopes: Scopes,
    pub created_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
}

impl TryFrom<ApiClientRow> for ApiClient {
    type Error = StorageError;
    fn try_from(row: ApiClientRow) -> Result<Self, Self::Error> {
        let corrupt = |e: crate::domain::DomainError| StorageError::Corrupt(e.to_string());
        Ok(ApiClient {
            id: ClientId::parse(&row.id).map_err(corrupt)?,
            organization_id: OrganizationId::parse(&row.organization_id).map_err(corrupt)?,
            scopes: Scopes::parse(&row.scopes).map_err(corrupt)?,
            name: row.name,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewApiClient {
    pub id: ClientId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub scopes: Scopes,
}

pub fn insert(conn: &mut DbConnection, new: NewApiClient) -> StorageResult<ApiClient> {
    let row = ApiClientRow {
        id: new.id.to_string(),
        organization_id: new.organization_id.to_string(),
        name: new.name,
        scopes: new.scopes.to_string(),
        created_at: now(),
        disabled_at: None,
    };
    diesel::insert_into(api_clients::table)
        .values(&row)
        .execute(conn)?;
    row.try_into()
}

pub fn find(conn: &mut DbConnection, id: &ClientId) -> StorageResult<ApiClient> {
    api_clients::table
        .find(id.as_str())
        .select(ApiClientRow::as_select())
        .first(conn)?
        .try_into()
}

/// The client if it exists, is enabled, and its organization is enabled.
pub fn find_active(conn: &mut DbConnection, id: &ClientId) -> StorageResult<Option<ApiClient>> {
    api_clients::table
        .inner_join(organizations::table)
        .filter(api_clients::id.eq(id.as_str()))
        .filter(api_clients::disabled_at.is_null())
        .filter(organizations::disabled_at.is_null())
        .select(ApiClientRow::as_select())
        .first(conn)
        .optional()?
        .map(TryInto::try_into)
        .transpose()
}

pub fn list_for(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> StorageResult<Vec<ApiClient>> {
    api_clients::table
        .filter(api_clients::organization_id.eq(organization.as_str()))
        .order(api_clients::id)
        .select(ApiClientRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

pub fn set_disabled(
    conn: &mut DbConnection,
    id: &ClientId,
    disabled: bool,
) -> StorageResult<ApiClient> {
    let updated = diesel::update(api_clients::table.find(id.as_str()))
        .set(api_clients::disabled_at.eq(disabled.then(now)))
        .execute(conn)?;
    if updated == 0 {
        return Err(StorageError::NotFound);
    }
    find(conn, id)
}

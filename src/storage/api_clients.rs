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
    pending_until: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: ClientId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub scopes: Scopes,
    pub created_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
    /// Not in effect before this time unless the organization confirms it
    /// (None: in effect).
    pub pending_until: Option<NaiveDateTime>,
}

impl ApiClient {
    /// Enabled and not pending (its organization aside).
    pub fn in_effect(&self) -> bool {
        self.disabled_at.is_none() && self.pending_until.is_none_or(|until| until <= now())
    }
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
            pending_until: row.pending_until,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewApiClient {
    pub id: ClientId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub scopes: Scopes,
    /// See [`ApiClient::pending_until`].
    pub pending_until: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, new: NewApiClient) -> StorageResult<ApiClient> {
    let row = ApiClientRow {
        id: new.id.to_string(),
        organization_id: new.organization_id.to_string(),
        name: new.name,
        scopes: new.scopes.to_string(),
        created_at: now(),
        disabled_at: None,
        pending_until: new.pending_until,
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

/// The client if it exists, is enabled and not pending, and its organization is enabled.
pub fn find_active(conn: &mut DbConnection, id: &ClientId) -> StorageResult<Option<ApiClient>> {
    let now = now();
    api_clients::table
        .inner_join(organizations::table)
        .filter(api_clients::id.eq(id.as_str()))
        .filter(api_clients::disabled_at.is_null())
        .filter(
            api_clients::pending_until
                .is_null()
                .or(api_clients::pending_until.le(now)),
        )
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

/// Every client in effect of an enabled organization of type `org_type`.
pub fn in_effect_of_type(conn: &mut DbConnection, org_type: &str) -> StorageResult<Vec<ApiClient>> {
    let rows: Vec<ApiClientRow> = api_clients::table
        .inner_join(organizations::table)
        .filter(organizations::org_type.eq(org_type))
        .filter(organizations::disabled_at.is_null())
        .filter(api_clients::disabled_at.is_null())
        .select(ApiClientRow::as_select())
        .load(conn)?;
    let clients: Vec<ApiClient> = rows
        .into_iter()
        .map(TryInto::try_into)
        .collect::<StorageResult<_>>()?;
    Ok(clients.into_iter().filter(ApiClient::in_effect).collect())
}

/// Puts a pending client of `organization` in effect now.
pub fn confirm(
    conn: &mut DbConnection,
    organization: &OrganizationId,
    id: &ClientId,
) -> StorageResult<ApiClient> {
    let updated = diesel::update(
        api_clients::table
            .find(id.as_str())
            .filter(api_clients::organization_id.eq(organization.as_str()))
            .filter(api_clients::pending_until.is_not_null()),
    )
    .set(api_clients::pending_until.eq(None::<NaiveDateTime>))
    .execute(conn)?;
    if updated == 0 {
        return Err(StorageError::NotFound);
    }
    find(conn, id)
}

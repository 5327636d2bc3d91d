//! Partner administration: the rules for organizations, their
//! certificates, API clients and communities. Shared by the admin CLI and
//! the `/v1/admin` endpoints, so both enforce the same rules.
use crate::auth::PeerCertificate;
use crate::domain::{ClientId, CommunityId, OrganizationId, OrganizationType, Scope, Scopes};
use crate::storage::api_clients::{self, ApiClient, NewApiClient};
use crate::storage::certificates::{self, NewCertificate, RegisteredCertificate};
use crate::storage::communities::{self, Community};
use crate::storage::organizations::{self, NewOrganization, Organization};
use crate::storage::{DbConnection, StorageError};
use diesel::Connection;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the admin scope can only be given to clients of a hub organization")]
    AdminScopeReserved,
    #[error("an API client needs at least one scope")]
    NoScopes,
    #[error("{0}")]
    BadCertificate(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Storage(StorageError),
}

impl From<StorageError> for AdminError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Conflict(what) => AdminError::Conflict(what),
            other => AdminError::Storage(other),
        }
    }
}

impl From<diesel::result::Error> for AdminError {
    fn from(error: diesel::result::Error) -> Self {
        StorageError::from(error).into()
    }
}

fn existing_organization(
    conn: &mut DbConnection,
    id: &OrganizationId,
) -> Result<Organization, AdminError> {
    organizations::find(conn, id).map_err(|e| match e {
        StorageError::NotFound => AdminError::NotFound("organization"),
        other => other.into(),
    })
}

pub fn create_organization(
    conn: &mut DbConnection,
    new: NewOrganization,
) -> Result<Organization, AdminError> {
    Ok(organizations::insert(conn, new)?)
}

pub fn organization(
    conn: &mut DbConnection,
    id: &OrganizationId,
) -> Result<Organization, AdminError> {
    existing_organization(conn, id)
}

pub fn set_organization_disabled(
    conn: &mut DbConnection,
    id: &OrganizationId,
    disabled: bool,
) -> Result<Organization, AdminError> {
    organizations::set_disabled(conn, id, disabled).map_err(|e| match e {
        StorageError::NotFound => AdminError::NotFound("organization"),
        other => other.into(),
    })
}

/// Registers a client certificate (PEM) to an organization by its SHA-256 fingerprint.
pub fn register_certificate(
    conn: &mut DbConnection,
    organization: &OrganizationId,
    certificate_pem: &str,
) -> Result<RegisteredCertificate, AdminError> {
    let certificate = PeerCertificate::from_pem(certificate_pem)
        .map_err(|e| AdminError::BadCertificate(e.to_string()))?;
    if certificate.not_after < chrono::Utc::now() {
        return Err(AdminError::BadCertificate(
            "the certificate has expired".into(),
        ));
    }
    conn.transaction(|conn| {
        existing_organization(conn, organization)?;
        Ok(certificates::insert(
            conn,
            NewCertificate {
                fingerprint: certificate.fingerprint,
                organization_id: organization.clone(),
                subject: certificate.subject,
                serial: certificate.serial,
                not_after: certificate.not_after.naive_utc(),
            },
        )?)
    })
}

pub fn certificates_of(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> Result<Vec<RegisteredCertificate>, AdminError> {
    existing_organization(conn, organization)?;
    Ok(certificates::list_for(conn, organization)?)
}

/// Withdraws a certificate registration (the fingerprint stops identifying the organization).
pub fn revoke_certificate(
    conn: &mut DbConnection,
    fingerprint: &str,
) -> Result<RegisteredCertificate, AdminError> {
    let fingerprint = fingerprint.trim().to_ascii_lowercase().replace(':', "");
    certificates::revoke(conn, &fingerprint).map_err(|e| match e {
        StorageError::NotFound => AdminError::NotFound("certificate"),
        other => other.into(),
    })
}

/// Creates an API client. Only hub organizations' clients may hold `admin`.
pub fn create_client(
    conn: &mut DbConnection,
    organization: &OrganizationId,
    id: ClientId,
    name: String,
    scopes: Scopes,
) -> Result<ApiClient, AdminError> {
    if scopes.is_empty() {
        return Err(AdminError::NoScopes);
    }
    conn.transaction(|conn| {
        let org = existing_organization(conn, organization)?;
        if scopes.contains(Scope::Admin) && org.org_type != OrganizationType::Hub {
            return Err(AdminError::AdminScopeReserved);
        }
        Ok(api_clients::insert(
            conn,
            NewApiClient {
                id,
                organization_id: organization.clone(),
                name,
                scopes,
            },
        )?)
    })
}

pub fn clients_of(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> Result<Vec<ApiClient>, AdminError> {
    existing_organization(conn, organization)?;
    Ok(api_clients::list_for(conn, organization)?)
}

pub fn set_client_disabled(
    conn: &mut DbConnection,
    id: &ClientId,
    disabled: bool,
) -> Result<ApiClient, AdminError> {
    api_clients::set_disabled(conn, id, disabled).map_err(|e| match e {
        StorageError::NotFound => AdminError::NotFound("API client"),
        other => other.into(),
    })
}

pub fn create_community(
    conn: &mut DbConnection,
    id: &CommunityId,
    name: &str,
    description: &str,
) -> Result<Community, AdminError> {
    Ok(communities::insert(conn, id, name, description)?)
}

fn community_not_found(e: StorageError) -> AdminError {
    match e {
        StorageError::NotFound => AdminError::NotFound("community"),
        other => other.into(),
    }
}

pub fn community(conn: &mut DbConnection, id: &CommunityId) -> Result<Community, AdminError> {
    communities::find(conn, id).map_err(community_not_found)
}

pub fn add_community_member(
    conn: &mut DbConnection,
    id: &CommunityId,
    member: &OrganizationId,
) -> Result<Community, AdminError> {
    existing_organization(conn, member)?;
    communities::add_member(conn, id, member).map_err(community_not_found)
}

pub fn remove_community_member(
    conn: &mut DbConnection,
    id: &CommunityId,
    member: &OrganizationId,
) -> Result<Community, AdminError> {
    communities::remove_member(conn, id, member).map_err(|e| match e {
        StorageError::NotFound => AdminError::NotFound("community membership"),
        other => other.into(),
    })
}

//! Partner administration: the rules for organizations, their
//! certificates, API clients and communities. Shared by the admin CLI and
//! the `/v1/admin` endpoints, so both enforce the same rules.
//!
//! The hub runs the CA and could register credentials for anyone, so that
//! power is never silent:
//! - every change here is an audit entry in the hash chain, in the same
//!   transaction as the change, naming the organizations it concerns;
//! - partners read what is registered under them, the admin history that
//!   concerns them and the members of their communities (`/v1/organization`);
//! - a certificate or API client added to an onboarded partner (one that
//!   already holds a certificate and a client in effect) is pending until
//!   the partner confirms it with its existing credentials, or until the
//!   operator's notice period ends;
//! - the hub may not join a community, and cannot disable its last admin client.
use crate::audit::{self, Actor};
use crate::auth::PeerCertificate;
use crate::domain::{ClientId, CommunityId, OrganizationId, OrganizationType, Scope, Scopes};
use crate::storage::api_clients::{self, ApiClient, NewApiClient};
use crate::storage::certificates::{self, NewCertificate, RegisteredCertificate};
use crate::storage::communities::{self, Community};
use crate::storage::organizations::{self, NewOrganization, Organization};
use crate::storage::{now, DbConnection, StorageError};
use chrono::NaiveDateTime;
use diesel::Connection;
use serde_json::json;

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
    /// A hub organization cannot be a community member: it would read the
    /// community's records.
    #[error("the hub's own organizations cannot join a community")]
    HubNotMember,
    /// Disabling this would leave no admin client in effect.
    #[error(
        "this is the last admin client in effect: enable or create another admin client first"
    )]
    LastAdminClient,
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
    actor: &Actor,
    new: NewOrganization,
) -> Result<Organization, AdminError> {
    conn.transaction(|conn| {
        let org = organizations::insert(conn, new)?;
        audit::record_admin(
            conn,
            actor,
            "admin.organization.create",
            &[org.id.as_str()],
            json!({ "organization": org.id.as_str(), "type": org.org_type.as_str(), "name": org.name }),
        )?;
        Ok(org)
    })
}

pub fn organization(
    conn: &mut DbConnection,
    id: &OrganizationId,
) -> Result<Organization, AdminError> {
    existing_organization(conn, id)
}

/// The admin clients in effect, other than those of `except_org` or `except_client`.
fn other_admin_clients(
    conn: &mut DbConnection,
    except_org: Option<&OrganizationId>,
    except_client: Option<&ClientId>,
) -> Result<usize, AdminError> {
    Ok(
        api_clients::in_effect_of_type(conn, OrganizationType::Hub.as_str())?
            .into_iter()
            .filter(|c| c.scopes.contains(Scope::Admin))
            .filter(|c| Some(&c.organization_id) != except_org)
            .filter(|c| Some(&c.id) != except_client)
            .count(),
    )
}

pub fn set_organization_disabled(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &OrganizationId,
    disabled: bool,
) -> Result<Organization, AdminError> {
    conn.transaction(|conn| {
        let org = existing_organization(conn, id)?;
        if disabled && org.disabled_at.is_none() && org.org_type == OrganizationType::Hub {
            let holds_admin = api_clients::in_effect_of_type(conn, OrganizationType::Hub.as_str())?
                .iter()
                .any(|c| &c.organization_id == id && c.scopes.contains(Scope::Admin));
            if holds_admin && other_admin_clients(conn, Some(id), None)? == 0 {
                return Err(AdminError::LastAdminClient);
            }
        }
        let org = organizations::set_disabled(conn, id, disabled).map_err(|e| match e {
            StorageError::NotFound => AdminError::NotFound("organization"),
            other => other.into(),
        })?;
        audit::record_admin(
            conn,
            actor,
            if disabled {
                "admin.organization.disable"
            } else {
                "admin.organization.enable"
            },
            &[id.as_str()],
            json!({ "organization": id.as_str() }),
        )?;
        Ok(org)
    })
}

/// When a credential added to `organization` now takes effect without its
/// confirmation: `None` (at once) while it is not yet onboarded (it holds
/// no certificate or no client in effect) or is the hub itself; otherwise
/// after `notice`.
fn pending_until(
    conn: &mut DbConnection,
    org: &Organization,
    notice: chrono::TimeDelta,
) -> Result<Option<NaiveDateTime>, AdminError> {
    if org.org_type == OrganizationType::Hub || notice <= chrono::TimeDelta::zero() {
        return Ok(None);
    }
    let has_certificate = certificates::has_one_in_effect(conn, &org.id)?;
    let has_client = api_clients::list_for(conn, &org.id)?
        .iter()
        .any(api_clients::ApiClient::in_effect);
    Ok((has_certificate && has_client).then(|| now() + notice))
}

fn timestamp(at: Option<NaiveDateTime>) -> serde_json::Value {
    at.map_or(serde_json::Value::Null, |t| {
        json!(t
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    })
}

/// Registers a client certificate (PEM) to an organization by its SHA-256
/// fingerprint. For an onboarded partner it stays pending for `notice`
/// unless the partner confirms it first.
pub fn register_certificate(
    conn: &mut DbConnection,
    actor: &Actor,
    organization: &OrganizationId,
    certificate_pem: &str,
    notice: chrono::TimeDelta,
) -> Result<RegisteredCertificate, AdminError> {
    let certificate = PeerCertificate::from_pem(certificate_pem)
        .map_err(|e| AdminError::BadCertificate(e.to_string()))?;
    if certificate.not_after < chrono::Utc::now() {
        return Err(AdminError::BadCertificate(
            "the certificate has expired".into(),
        ));
    }
    conn.transaction(|conn| {
        let org = existing_organization(conn, organization)?;
        let pending_until = pending_until(conn, &org, notice)?;
        let registered = certificates::insert(
            conn,
            NewCertificate {
                fingerprint: certificate.fingerprint,
                organization_id: organization.clone(),
                subject: certificate.subject,
                serial: certificate.serial,
                not_after: certificate.not_after.naive_utc(),
                pending_until,
            },
        )?;
        audit::record_admin(
            conn,
            actor,
            "admin.certificate.register",
            &[organization.as_str()],
            json!({
                "organization": organization.as_str(),
                "fingerprint": registered.fingerprint,
                "subject": registered.subject,
                "pending_until": timestamp(registered.pending_until),
            }),
        )?;
        Ok(registered)
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
    actor: &Actor,
    fingerprint: &str,
) -> Result<RegisteredCertificate, AdminError> {
    let fingerprint = fingerprint.trim().to_ascii_lowercase().replace(':', "");
    conn.transaction(|conn| {
        let revoked = certificates::revoke(conn, &fingerprint).map_err(|e| match e {
            StorageError::NotFound => AdminError::NotFound("certificate"),
            other => other.into(),
        })?;
        let org = revoked.organization_id.to_string();
        audit::record_admin(
            conn,
            actor,
            "admin.certificate.revoke",
            &[&org],
            json!({ "organization": org, "fingerprint": revoked.fingerprint }),
        )?;
        Ok(revoked)
    })
}

/// Creates an API client. Only hub organizations' clients may hold `admin`.
/// For an onboarded partner it stays pending for `notice` unless the
/// partner confirms it first.
pub fn create_client(
    conn: &mut DbConnection,
    actor: &Actor,
    organization: &OrganizationId,
    id: ClientId,
    name: String,
    scopes: Scopes,
    notice: chrono::TimeDelta,
) -> Result<ApiClient, AdminError> {
    if scopes.is_empty() {
        return Err(AdminError::NoScopes);
    }
    conn.transaction(|conn| {
        let org = existing_organization(conn, organization)?;
        if scopes.contains(Scope::Admin) && org.org_type != OrganizationType::Hub {
            return Err(AdminError::AdminScopeReserved);
        }
        let pending_until = pending_until(conn, &org, notice)?;
        let client = api_clients::insert(
            conn,
            NewApiClient {
                id,
                organization_id: organization.clone(),
                name,
                scopes,
                pending_until,
            },
        )?;
        audit::record_admin(
            conn,
            actor,
            "admin.client.create",
            &[organization.as_str()],
            json!({
                "organization": organization.as_str(),
                "client": client.id.as_str(),
                "scopes": client.scopes.to_string(),
                "pending_until": timestamp(client.pending_until),
            }),
        )?;
        Ok(client)
    })
}

pub fn clients_of(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> Result<Vec<ApiClient>, AdminError> {
    existing_organization(conn, organization)?;
    Ok(api_clients::list_for(conn, organization)?)
}

/// Disables or re-enables a client; the last admin client in effect cannot
/// be disabled (the hub would lock itself out).
pub fn set_client_disabled(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &ClientId,
    disabled: bool,
) -> Result<ApiClient, AdminError> {
    conn.transaction(|conn| {
        let client = api_clients::find(conn, id).map_err(|e| match e {
            StorageError::NotFound => AdminError::NotFound("API client"),
            other => other.into(),
        })?;
        if disabled
            && client.in_effect()
            && client.scopes.contains(Scope::Admin)
            && other_admin_clients(conn, None, Some(id))? == 0
        {
            return Err(AdminError::LastAdminClient);
        }
        let client = api_clients::set_disabled(conn, id, disabled)?;
        let org = client.organization_id.to_string();
        audit::record_admin(
            conn,
            actor,
            if disabled {
                "admin.client.disable"
            } else {
                "admin.client.enable"
            },
            &[&org],
            json!({ "organization": org, "client": id.as_str() }),
        )?;
        Ok(client)
    })
}

pub fn create_community(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &CommunityId,
    name: &str,
    description: &str,
) -> Result<Community, AdminError> {
    conn.transaction(|conn| {
        let community = communities::insert(conn, id, name, description)?;
        audit::record_admin(
            conn,
            actor,
            "admin.community.create",
            &[],
            json!({ "community": id.as_str(), "name": name }),
        )?;
        Ok(community)
    })
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

/// Adds a partner to a community; every member (old and new) finds the
/// change in its admin history. Hub organizations cannot join.
pub fn add_community_member(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &CommunityId,
    member: &OrganizationId,
) -> Result<Community, AdminError> {
    conn.transaction(|conn| {
        let org = existing_organization(conn, member)?;
        if org.org_type == OrganizationType::Hub {
            return Err(AdminError::HubNotMember);
        }
        let before = communities::find(conn, id).map_err(community_not_found)?;
        let community = communities::add_member(conn, id, member).map_err(community_not_found)?;
        if !before.members.contains(member) {
            let concerned: Vec<&str> = community.members.iter().map(|m| m.as_str()).collect();
            audit::record_admin(
                conn,
                actor,
                "admin.community.add_member",
                &concerned,
                json!({ "community": id.as_str(), "organization": member.as_str() }),
            )?;
        }
        Ok(community)
    })
}

pub fn remove_community_member(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &CommunityId,
    member: &OrganizationId,
) -> Result<Community, AdminError> {
    conn.transaction(|conn| {
        let community = communities::remove_member(conn, id, member).map_err(|e| match e {
            StorageError::NotFound => AdminError::NotFound("community membership"),
            other => other.into(),
        })?;
        let mut concerned: Vec<&str> = community.members.iter().map(|m| m.as_str()).collect();
        concerned.push(member.as_str());
        audit::record_admin(
            conn,
            actor,
            "admin.community.remove_member",
            &concerned,
            json!({ "community": id.as_str(), "organization": member.as_str() }),
        )?;
        Ok(community)
    })
}

// ---- what a partner sees of the hub's administration of it ----------------------

/// What is registered under an organization, as the organization itself reads it.
#[derive(Debug, Clone)]
pub struct OwnRegistrations {
    pub organization: Organization,
    pub certificates: Vec<RegisteredCertificate>,
    pub clients: Vec<ApiClient>,
    /// The communities it belongs to, with when it was added.
    pub communities: Vec<(Community, NaiveDateTime)>,
}

pub fn own_registrations(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> Result<OwnRegistrations, AdminError> {
    let org = existing_organization(conn, organization)?;
    let mut joined = Vec::new();
    for id in communities::memberships(conn, organization)? {
        let added = communities::members_since(conn, &id)?
            .into_iter()
            .find(|(m, _)| m == organization)
            .map(|(_, at)| at);
        let community = communities::find(conn, &id).map_err(community_not_found)?;
        if let Some(added) = added {
            joined.push((community, added));
        }
    }
    Ok(OwnRegistrations {
        certificates: certificates::list_for(conn, organization)?,
        clients: api_clients::list_for(conn, organization)?,
        organization: org,
        communities: joined,
    })
}

/// The most admin history entries one answer carries.
pub const MAX_HISTORY: i64 = 1000;

/// The audit entries of administrative actions that concern `organization`
/// (its credentials, its communities' memberships), oldest first.
pub fn admin_history(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> Result<Vec<crate::storage::audit::AuditRow>, AdminError> {
    Ok(crate::storage::audit::admin_entries_naming(
        conn,
        &audit::concerns(organization.as_str()),
        MAX_HISTORY,
    )?)
}

/// The members of a community the reader belongs to, with when each was
/// added; a community it does not belong to is not found.
pub fn community_members(
    conn: &mut DbConnection,
    reader: &OrganizationId,
    id: &CommunityId,
) -> Result<Vec<(OrganizationId, NaiveDateTime)>, AdminError> {
    let members = communities::members_since(conn, id)?;
    if !members.iter().any(|(m, _)| m == reader) {
        return Err(AdminError::NotFound("community"));
    }
    Ok(members)
}

/// The partner confirms a pending certificate over its existing credentials.
pub fn confirm_certificate(
    conn: &mut DbConnection,
    actor: &Actor,
    organization: &OrganizationId,
    fingerprint: &str,
) -> Result<RegisteredCertificate, AdminError> {
    let fingerprint = fingerprint.trim().to_ascii_lowercase().replace(':', "");
    conn.transaction(|conn| {
        let confirmed =
            certificates::confirm(conn, organization, &fingerprint).map_err(|e| match e {
                StorageError::NotFound => AdminError::NotFound("pending certificate"),
                other => other.into(),
            })?;
        audit::record_admin(
            conn,
            actor,
            "partner.certificate.confirm",
            &[organization.as_str()],
            json!({ "organization": organization.as_str(), "fingerprint": fingerprint }),
        )?;
        Ok(confirmed)
    })
}

/// The partner confirms a pending API client over its existing credentials.
pub fn confirm_client(
    conn: &mut DbConnection,
    actor: &Actor,
    organization: &OrganizationId,
    id: &ClientId,
) -> Result<ApiClient, AdminError> {
    conn.transaction(|conn| {
        let confirmed = api_clients::confirm(conn, organization, id).map_err(|e| match e {
            StorageError::NotFound => AdminError::NotFound("pending API client"),
            other => other.into(),
        })?;
        audit::record_admin(
            conn,
            actor,
            "partner.client.confirm",
            &[organization.as_str()],
            json!({ "organization": organization.as_str(), "client": id.as_str() }),
        )?;
        Ok(confirmed)
    })
}

/// Rotates the hub's signing key: new tokens are signed with a new key.
pub fn rotate_signing_key(
    conn: &mut DbConnection,
    actor: &Actor,
    algorithm: &str,
    encryption: &crate::auth::key_encryption::KeyEncryption,
) -> Result<crate::storage::signing_keys::SigningKeyRow, AdminError> {
    conn.transaction(|conn| {
        let key = crate::auth::keys::rotate(conn, algorithm, encryption)?;
        audit::record_admin(
            conn,
            actor,
            "admin.keys.rotate",
            &[],
            json!({ "kid": key.kid, "algorithm": key.algorithm }),
        )?;
        Ok(key)
    })
}

/// Registers a certificate the hub's CA issued with an organization's
/// mapped subject, on its first use (see `tls.subject_mapping_ca`), so the
/// mapping is never silent: it is audited, listed under the organization,
/// and, for an onboarded partner, pending like any credential the hub adds.
/// Returns whether it is in effect now. A concurrent first use that
/// registered it already counts as the registration.
pub fn register_subject_mapped(
    conn: &mut DbConnection,
    organization: &OrganizationId,
    certificate: &PeerCertificate,
    notice: chrono::TimeDelta,
) -> Result<bool, AdminError> {
    let actor = Actor {
        organization: "hub-ca".into(),
        client: "subject-mapping".into(),
    };
    let registered = conn.transaction(|conn| {
        let org = existing_organization(conn, organization)?;
        let pending_until = pending_until(conn, &org, notice)?;
        let registered = certificates::insert(
            conn,
            NewCertificate {
                fingerprint: certificate.fingerprint.clone(),
                organization_id: organization.clone(),
                subject: certificate.subject.clone(),
                serial: certificate.serial.clone(),
                not_after: certificate.not_after.naive_utc(),
                pending_until,
            },
        )?;
        audit::record_admin(
            conn,
            &actor,
            "admin.certificate.subject_mapped",
            &[organization.as_str()],
            json!({
                "organization": organization.as_str(),
                "fingerprint": registered.fingerprint,
                "subject": registered.subject,
                "pending_until": timestamp(registered.pending_until),
            }),
        )?;
        Ok::<_, AdminError>(registered)
    });
    match registered {
        Ok(registered) => Ok(registered.pending_until.is_none()),
        Err(AdminError::Conflict(_)) => Ok(matches!(
            certificates::registration(conn, &certificate.fingerprint)?,
            certificates::Registration::Active(_)
        )),
        Err(other) => Err(other),
    }
}

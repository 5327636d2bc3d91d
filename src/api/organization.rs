//! `/v1/organization` and `/v1/communities`: what the hub has registered
//! under the caller's own organization, the administrative history that
//! concerns it, the members of its communities, and the confirmation of
//! credentials the hub added for it. Any client of the organization may
//! call these (no scope needed): they are how a partner watches the hub's
//! power over it. The rules live in `crate::partners`.
use super::admin::{ApiClientView, CertificateView};
use crate::audit::Actor;
use crate::auth::{AuthService, Caller};
use crate::domain::{ClientId, CommunityId};
use crate::error::{ApiError, Problem};
use crate::partners;
use crate::storage::Database;
use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(own_organization)
        .service(admin_history)
        .service(confirm_certificate)
        .service(confirm_client)
        .service(community_members);
}

/// A community the organization belongs to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MembershipView {
    pub community: String,
    pub name: String,
    /// When the organization was added to it.
    pub added_at: DateTime<Utc>,
}

/// Everything registered under your organization.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OwnOrganizationView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub org_type: String,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
    /// Every certificate registered to it, with its fingerprint; pending
    /// ones carry `pending_until`.
    pub certificates: Vec<CertificateView>,
    /// Every API client, with its scopes; pending ones carry `pending_until`.
    pub clients: Vec<ApiClientView>,
    pub communities: Vec<MembershipView>,
}

/// One administrative action that concerns your organization, from the
/// hash-chained audit log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminActionView {
    /// The entry's position in the audit chain.
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// Who acted: an organization (`operator` for the command line) …
    pub actor_organization: String,
    /// … and its client.
    pub actor_client: String,
    /// `admin.certificate.register`, `admin.client.create`,
    /// `admin.community.add_member`, `partner.certificate.confirm`, …
    pub action: String,
    /// The particulars (fingerprint, client, community, pending_until, …).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The entry's hash in the chain (`tracewire audit verify` checks it).
    pub hash: String,
}

/// A member of a community.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    pub organization: String,
    pub added_at: DateTime<Utc>,
}

/// What is registered under your organization.
///
/// Its certificates (with fingerprints), API clients (with scopes) and
/// communities, including credentials the hub added that are still
/// pending your confirmation.
#[utoipa::path(get, path = "/v1/organization", tag = "organization", operation_id = "own_organization",
    responses((status = 200, body = OwnOrganizationView)),
    security(("mutual_tls" = [], "bearer" = [])))]
#[get("/organization")]
async fn own_organization(
    caller: Caller,
    db: web::Data<Database>,
) -> Result<web::Json<OwnOrganizationView>, ApiError> {
    let org = caller.organization.clone();
    let own = db
        .run(move |conn| partners::own_registrations(conn, &org))
        .await?;
    Ok(web::Json(OwnOrganizationView {
        id: own.organization.id.to_string(),
        name: own.organization.name,
        org_type: own.organization.org_type.to_string(),
        created_at: own.organization.created_at.and_utc(),
        disabled: own.organization.disabled_at.is_some(),
        certificates: own.certificates.into_iter().map(Into::into).collect(),
        clients: own.clients.into_iter().map(Into::into).collect(),
        communities: own
            .communities
            .into_iter()
            .map(|(c, added)| MembershipView {
                community: c.id.to_string(),
                name: c.name,
                added_at: added.and_utc(),
            })
            .collect(),
    }))
}

/// The hub's administrative actions that concern your organization.
///
/// From the audit log, oldest first (at most 1,000): certificates and
/// clients registered, revoked, disabled or confirmed, and every change to
/// the membership of the communities you belong to.
#[utoipa::path(get, path = "/v1/organization/history", tag = "organization", operation_id = "own_admin_history",
    responses((status = 200, body = Vec<AdminActionView>)),
    security(("mutual_tls" = [], "bearer" = [])))]
#[get("/organization/history")]
async fn admin_history(
    caller: Caller,
    db: web::Data<Database>,
) -> Result<web::Json<Vec<AdminActionView>>, ApiError> {
    let org = caller.organization.clone();
    let rows = db
        .run(move |conn| partners::admin_history(conn, &org))
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|row| AdminActionView {
                seq: row.seq,
                at: row.at.and_utc(),
                actor_organization: row.organization,
                actor_client: row.client,
                action: row.action,
                detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
                hash: row.hash,
            })
            .collect(),
    ))
}

/// Confirm a certificate the hub registered for you.
///
/// Until you confirm it (over your existing credentials) or its notice
/// period ends, it does not identify your organization.
#[utoipa::path(post, path = "/v1/organization/certificates/{fingerprint}/confirm", tag = "organization", operation_id = "confirm_certificate",
    responses((status = 200, body = CertificateView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = [])))]
#[post("/organization/certificates/{fingerprint}/confirm")]
async fn confirm_certificate(
    caller: Caller,
    db: web::Data<Database>,
    auth: web::Data<AuthService>,
    fingerprint: web::Path<String>,
) -> Result<web::Json<CertificateView>, ApiError> {
    let actor = Actor::from(&caller);
    let org = caller.organization.clone();
    let fingerprint = fingerprint.into_inner();
    let confirmed = db
        .run(move |conn| partners::confirm_certificate(conn, &actor, &org, &fingerprint))
        .await?;
    auth.invalidate_caches();
    Ok(web::Json(confirmed.into()))
}

/// Confirm an API client the hub created for you.
///
/// Until you confirm it (over your existing credentials) or its notice
/// period ends, it cannot get tokens.
#[utoipa::path(post, path = "/v1/organization/clients/{id}/confirm", tag = "organization", operation_id = "confirm_client",
    responses((status = 200, body = ApiClientView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = [])))]
#[post("/organization/clients/{id}/confirm")]
async fn confirm_client(
    caller: Caller,
    db: web::Data<Database>,
    auth: web::Data<AuthService>,
    id: web::Path<String>,
) -> Result<web::Json<ApiClientView>, ApiError> {
    let actor = Actor::from(&caller);
    let org = caller.organization.clone();
    let id = ClientId::parse(&id).map_err(|_| ApiError::NotFound)?;
    let confirmed = db
        .run(move |conn| partners::confirm_client(conn, &actor, &org, &id))
        .await?;
    auth.invalidate_caches();
    Ok(web::Json(confirmed.into()))
}

/// The members of a community you belong to.
///
/// With when each was added; 404 for a community you are not in.
#[utoipa::path(get, path = "/v1/communities/{id}/members", tag = "organization", operation_id = "community_members",
    responses((status = 200, body = Vec<MemberView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = [])))]
#[get("/communities/{id}/members")]
async fn community_members(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<Vec<MemberView>>, ApiError> {
    let community = CommunityId::parse(&id).map_err(|_| ApiError::NotFound)?;
    let org = caller.organization.clone();
    let members = db
        .run(move |conn| partners::community_members(conn, &org, &community))
        .await?;
    Ok(web::Json(
        members
            .into_iter()
            .map(|(m, at)| MemberView {
                organization: m.to_string(),
                added_at: at.and_utc(),
            })
            .collect(),
    ))
}

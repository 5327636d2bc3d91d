//! `/v1/admin`: partner administration for callers with the `admin` scope
//! (clients of the hub organization). The rules live in `crate::partners`.
use crate::audit::Actor;
use crate::auth::{AuthService, Caller};
use crate::domain::{
    parse_display_name, ClientId, CommunityId, OrganizationId, OrganizationType, Scope, Scopes,
};
use crate::error::{ApiError, FieldErrors, Problem};
use crate::partners;
use crate::storage::api_clients::ApiClient;
use crate::storage::certificates::RegisteredCertificate;
use crate::storage::communities::Community;
use crate::storage::organizations::{self, NewOrganization, Organization};
use crate::storage::{signing_keys, Database};
use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .service(list_organizations)
            .service(create_organization)
            .service(get_organization)
            .service(update_organization)
            .service(list_certificates)
            .service(register_certificate)
            .service(revoke_certificate)
            .service(list_clients)
            .service(create_client)
            .service(update_client)
            .service(list_communities)
            .service(create_community)
            .service(get_community)
            .service(add_member)
            .service(remove_member)
            .service(list_keys)
            .service(rotate_key)
            .service(super::webhooks::admin_webhook_health),
    );
}

// ---- views -----------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub org_type: OrganizationType,
    /// Subject DN mapped to this organization for certificates issued by the hub CA.
    pub certificate_subject: Option<String>,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

impl From<Organization> for OrganizationView {
    fn from(o: Organization) -> Self {
        OrganizationView {
            id: o.id.to_string(),
            name: o.name,
            org_type: o.org_type,
            certificate_subject: o.certificate_subject,
            created_at: o.created_at.and_utc(),
            disabled: o.disabled_at.is_some(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateView {
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub fingerprint: String,
    pub organization: String,
    pub subject: String,
    pub serial: String,
    pub not_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Pending: not in effect before this time unless the organization
    /// confirms it first (absent: in effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_until: Option<DateTime<Utc>>,
}

impl From<RegisteredCertificate> for CertificateView {
    fn from(c: RegisteredCertificate) -> Self {
        CertificateView {
            fingerprint: c.fingerprint,
            organization: c.organization_id.to_string(),
            subject: c.subject,
            serial: c.serial,
            not_after: c.not_after.and_utc(),
            created_at: c.created_at.and_utc(),
            revoked_at: c.revoked_at.map(|t| t.and_utc()),
            pending_until: c
                .pending_until
                .filter(|until| *until > crate::storage::now())
                .map(|until| until.and_utc()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiClientView {
    pub id: String,
    pub organization: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
    /// Pending: not in effect before this time unless the organization
    /// confirms it first (absent: in effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ApiClient> for ApiClientView {
    fn from(c: ApiClient) -> Self {
        ApiClientView {
            id: c.id.to_string(),
            organization: c.organization_id.to_string(),
            name: c.name,
            scopes: c.scopes.iter().map(|s| s.to_string()).collect(),
            created_at: c.created_at.and_utc(),
            disabled: c.disabled_at.is_some(),
            pending_until: c
                .pending_until
                .filter(|until| *until > crate::storage::now())
                .map(|until| until.and_utc()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommunityView {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Member organization ids.
    pub members: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Community> for CommunityView {
    fn from(c: Community) -> Self {
        CommunityView {
            id: c.id.to_string(),
            name: c.name,
            description: c.description,
            members: c.members.iter().map(|m| m.to_string()).collect(),
            created_at: c.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SigningKeyView {
    pub kid: String,
    pub algorithm: String,
    pub created_at: DateTime<Utc>,
    /// When the key stopped signing; it still verifies until its tokens expire.
    pub retired_at: Option<DateTime<Utc>>,
}

impl From<signing_keys::SigningKeyRow> for SigningKeyView {
    fn from(k: signing_keys::SigningKeyRow) -> Self {
        SigningKeyView {
            kid: k.kid,
            algorithm: k.algorithm,
            created_at: k.created_at.and_utc(),
            retired_at: k.retired_at.map(|t| t.and_utc()),
        }
    }
}

// ---- requests ----------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    /// Stable id: 2–63 characters of a-z, 0-9 and `-`.
    #[schema(example = "acme-forensics")]
    pub id: String,
    /// 1 to 200 characters, no control characters.
    #[schema(example = "Acme Forensics Ltd", min_length = 1, max_length = 200)]
    pub name: String,
    /// forensics, ngo, exchange, law_enforcement, hub or other.
    #[serde(rename = "type")]
    pub org_type: String,
    /// Optional subject DN mapping for certificates issued by the hub CA (at most 1000 characters).
    #[schema(min_length = 1, max_length = 1000)]
    pub certificate_subject: Option<String>,
}

impl CreateOrganization {
    fn parse(self) -> Result<NewOrganization, ApiError> {
        let mut errors = FieldErrors::default();
        let id = errors.check("id", OrganizationId::parse(&self.id));
        let name = errors.check("name", parse_display_name("name", &self.name, 200));
        let org_type = errors.check("type", self.org_type.parse::<OrganizationType>());
        let subject = match self.certificate_subject {
            Some(s) => errors
                .check(
                    "certificate_subject",
                    parse_display_name("certificate subject", &s, 1000),
                )
                .map(Some),
            None => Some(None),
        };
        let value = match (id, name, org_type, subject) {
            (Some(id), Some(name), Some(org_type), Some(certificate_subject)) => {
                Some(NewOrganization {
                    id,
                    name,
                    org_type,
                    certificate_subject,
                })
            }
            _ => None,
        };
        errors.finish(value)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetDisabled {
    /// `true` stops the organization's (or client's) certificates and tokens from working.
    pub disabled: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterCertificate {
    /// The client certificate, PEM.
    pub certificate_pem: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiClient {
    /// The `client_id`: 2–63 characters of a-z, 0-9 and `-`.
    #[schema(example = "acme-forensics-ingest")]
    pub id: String,
    /// 1 to 200 characters, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// At least one scope.
    #[schema(example = json!(["indicators:read", "indicators:write"]), min_items = 1)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCommunity {
    #[schema(example = "anti-trafficking")]
    pub id: String,
    /// 1 to 200 characters, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// At most 2000 characters; tab and line feed are the only control characters allowed.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
}

// ---- helpers -----------------------------------------------------------------

fn org_id(value: &str) -> Result<OrganizationId, ApiError> {
    OrganizationId::parse(value).map_err(|_| ApiError::NotFound)
}

fn community_id(value: &str) -> Result<CommunityId, ApiError> {
    CommunityId::parse(value).map_err(|_| ApiError::NotFound)
}

// ---- organizations -------------------------------------------------------------

/// List organizations.
#[utoipa::path(get, path = "/v1/admin/organizations", tag = "admin", operation_id = "admin_list_organizations",
    responses((status = 200, body = Vec<OrganizationView>), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[get("/organizations")]
async fn list_organizations(
    caller: Caller,
    db: web::Data<Database>,
) -> Result<web::Json<Vec<OrganizationView>>, ApiError> {
    caller.require(Scope::Admin)?;
    let list = db.run(organizations::list).await?;
    Ok(web::Json(list.into_iter().map(Into::into).collect()))
}

/// Register an organization.
#[utoipa::path(post, path = "/v1/admin/organizations", tag = "admin", operation_id = "admin_create_organization",
    request_body = CreateOrganization,
    responses((status = 201, body = OrganizationView), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[post("/organizations")]
async fn create_organization(
    caller: Caller,
    db: web::Data<Database>,
    body: web::Json<CreateOrganization>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let actor = Actor::from(&caller);
    let new = body.into_inner().parse()?;
    let org = db
        .run(move |conn| partners::create_organization(conn, &actor, new))
        .await?;
    Ok(HttpResponse::Created().json(OrganizationView::from(org)))
}

/// Show an organization.
#[utoipa::path(get, path = "/v1/admin/organizations/{id}", tag = "admin", operation_id = "admin_get_organization",
    responses((status = 200, body = OrganizationView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[get("/organizations/{id}")]
async fn get_organization(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<OrganizationView>, ApiError> {
    caller.require(Scope::Admin)?;
    let id = org_id(&id)?;
    let org = db
        .run(move |conn| partners::organization(conn, &id))
        .await?;
    Ok(web::Json(org.into()))
}

/// Disable or re-enable an organization.
#[utoipa::path(patch, path = "/v1/admin/organizations/{id}", tag = "admin", operation_id = "admin_update_organization",
    request_body = SetDisabled,
    responses((status = 200, body = OrganizationView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[patch("/organizations/{id}")]
async fn update_organization(
    caller: Caller,
    db: web::Data<Database>,
    auth: web::Data<AuthService>,
    id: web::Path<String>,
    body: web::Json<SetDisabled>,
) -> Result<web::Json<OrganizationView>, ApiError> {
    caller.require(Scope::Admin)?;
    let actor = Actor::from(&caller);
    let id = org_id(&id)?;
    let disabled = body.disabled;
    let org = db
        .run(move |conn| partners::set_organization_disabled(conn, &actor, &id, disabled))
        .await?;
    auth.invalidate_caches();
    Ok(web::Json(org.into()))
}

// ---- certificates ----------------------------------------------------------------

/// List an organization's registered certificates.
#[utoipa::path(get, path = "/v1/admin/organizations/{id}/certificates", tag = "admin", operation_id = "admin_list_certificates",
    responses((status = 200, body = Vec<CertificateView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[get("/organizations/{id}/certificates")]
async fn list_certificates(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<Vec<CertificateView>>, ApiError> {
    caller.require(Scope::Admin)?;
    let id = org_id(&id)?;
    let list = db
        .run(move |conn| partners::certificates_of(conn, &id))
        .await?;
    Ok(web::Json(list.into_iter().map(Into::into).collect()))
}

/// Register a client certificate to an organization.
#[utoipa::path(post, path = "/v1/admin/organizations/{id}/certificates", tag = "admin", operation_id = "admin_register_certificate",
    request_body = RegisterCertificate,
    responses((status = 201, body = CertificateView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[post("/organizations/{id}/certificates")]
async fn register_certificate(
    caller: Caller,
    db: web::Data<Database>,
    auth: web::Data<AuthService>,
    id: web::Path<String>,
    body: web::Json<RegisterCertificate>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let actor = Actor::from(&caller);
    let notice = auth.credential_notice();
    let id = org_id(&id)?;
    let pem = body.into_inner().certificate_pem;
    let cert = db
        .run(move |conn| partners::register_certificate(conn, &actor, &id, &pem, notice))
        .await?;
    auth.invalidate_caches();
    Ok(HttpResponse::Created().json(CertificateView::from(cert)))
}

/// Withdraw a certificate registration.
#[utoipa::path(post, path = "/v1/admin/certificates/{fingerprint}/revoke", tag = "admin", operation_id = "admin_revoke_certificate",
    responses((status = 200, body = CertificateView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[post("/certificates/{fingerprint}/revoke")]
async fn revoke_certificate(
    caller: Caller,
    db: web::Data<Database>,
    auth: web::Data<AuthService>,
    fingerprint: web::Path<String>,
) -> Result<web::Json<CertificateView>, ApiError> {
    caller.require(Scope::Admin)?;
    let actor = Actor::from(&caller);
    let fingerprint = fingerprint.into_inner();
    let cert = db
        .run(move |conn| partners::revoke_certificate(conn, &actor, &fingerprint))
        .await?;
    auth.invalidate_caches();
    Ok(web::Json(cert.into()))
}

// ---- API clients ------------------------------------------------------------------

/// List an organization's API clients.
#[utoipa::path(get, path = "/v1/admin/organizations/{id}/clients", tag = "admin", operation_id = "admin_list_clients",
    responses((status = 200, body = Vec<ApiClientView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[get("/organizations/{id}/clients")]
async fn list_clients(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<Vec<ApiClientView>>, ApiError> {
    caller.require(Scope::Admin)?;
    let id = org_id(&id)?;
    let list = db.run(move |conn| partners::clients_of(conn, &id)).await?;
    Ok(web::Json(list.into_iter().map(Into::into).collect()))
}

/// Create an API client for an organization.
#[utoipa::path(post, path = "/v1/admin/organizations/{id}/clients", tag = "admin", operation_id = "admin_create_client",
    request_body = CreateApiClient,
    responses((status = 201, body = ApiClientView), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[post("/organizations/{id}/clients")]
async fn create_client(
    caller: Caller,
    db: web::Data<Database>,
    auth: web::Data<AuthService>,
    id: web::Path<String>,
    body: web::Json<CreateApiClient>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let actor = Actor::from(&caller);
    let notice = auth.credential_notice();
    let organization = org_id(&id)?;
    let body = body.into_inner();
    let mut errors = FieldErrors::default();
    let client_id = errors.check("id", ClientId::parse(&body.id));
    let name = errors.check("name", parse_display_name("name", &body.name, 200));
    let scopes = errors.check("scopes", Scopes::parse(&body.scopes.join(" ")));
    let (client_id, name, scopes) = errors.finish(match (client_id, name, scopes) {
        (Some(a), Some(b), Some(c)) => Some((a, b, c)),
        _ => None,
    })?;
    let client = db
        .run(move |conn| {
            partners::create_client(conn, &actor, &organization, client_id, name, scopes, notice)
        })
        .await?;
    Ok(HttpResponse::Created().json(ApiClientView::from(client)))
}

/// Disable or re-enable an API client. Its tokens stop working at once.
#[utoipa::path(patch, path = "/v1/admin/clients/{id}", tag = "admin", operation_id = "admin_update_client",
    request_body = SetDisabled,
    responses((status = 200, body = ApiClientView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[patch("/clients/{id}")]
async fn update_client(
    caller: Caller,
    db: web::Data<Database>,
    auth: web::Data<AuthService>,
    id: web::Path<String>,
    body: web::Json<SetDisabled>,
) -> Result<web::Json<ApiClientView>, ApiError> {
    caller.require(Scope::Admin)?;
    let actor = Actor::from(&caller);
    let id = ClientId::parse(&id).map_err(|_| ApiError::NotFound)?;
    let disabled = body.disabled;
    let client = db
        .run(move |conn| partners::set_client_disabled(conn, &actor, &id, disabled))
        .await?;
    auth.invalidate_caches();
    Ok(web::Json(client.into()))
}

// ---- communities --------------------------------------------------------------------

/// List communities and their members.
#[utoipa::path(get, path = "/v1/admin/communities", tag = "admin", operation_id = "admin_list_communities",
    responses((status = 200, body = Vec<CommunityView>)),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[get("/communities")]
async fn list_communities(
    caller: Caller,
    db: web::Data<Database>,
) -> Result<web::Json<Vec<CommunityView>>, ApiError> {
    caller.require(Scope::Admin)?;
    let list = db.run(crate::storage::communities::list).await?;
    Ok(web::Json(list.into_iter().map(Into::into).collect()))
}

/// Create a community.
#[utoipa::path(post, path = "/v1/admin/communities", tag = "admin", operation_id = "admin_create_community",
    request_body = CreateCommunity,
    responses((status = 201, body = CommunityView), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[post("/communities")]
async fn create_community(
    caller: Caller,
    db: web::Data<Database>,
    body: web::Json<CreateCommunity>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let actor = Actor::from(&caller);
    let body = body.into_inner();
    let mut errors = FieldErrors::default();
    let id = errors.check("id", CommunityId::parse(&body.id));
    let name = errors.check("name", parse_display_name("name", &body.name, 200));
    let description = body.description;
    if let Some(problem) = crate::domain::text_problem(&description, 2000, true) {
        errors.check::<(), _>("description", Err(problem));
    }
    let (id, name) = errors.finish(id.zip(name))?;
    let community = db
        .run(move |conn| partners::create_community(conn, &actor, &id, &name, &description))
        .await?;
    Ok(HttpResponse::Created().json(CommunityView::from(community)))
}

/// Show a community.
#[utoipa::path(get, path = "/v1/admin/communities/{id}", tag = "admin", operation_id = "admin_get_community",
    responses((status = 200, body = CommunityView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[get("/communities/{id}")]
async fn get_community(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<CommunityView>, ApiError> {
    caller.require(Scope::Admin)?;
    let id = community_id(&id)?;
    let community = db.run(move |conn| partners::community(conn, &id)).await?;
    Ok(web::Json(community.into()))
}

/// Add an organization to a community (idempotent).
#[utoipa::path(put, path = "/v1/admin/communities/{id}/members/{organization}", tag = "admin", operation_id = "admin_add_community_member",
    responses((status = 200, body = CommunityView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[put("/communities/{id}/members/{organization}")]
async fn add_member(
    caller: Caller,
    db: web::Data<Database>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<CommunityView>, ApiError> {
    caller.require(Scope::Admin)?;
    let actor = Actor::from(&caller);
    let (id, member) = (community_id(&path.0)?, org_id(&path.1)?);
    let community = db
        .run(move |conn| partners::add_community_member(conn, &actor, &id, &member))
        .await?;
    Ok(web::Json(community.into()))
}

/// Remove an organization from a community.
#[utoipa::path(delete, path = "/v1/admin/communities/{id}/members/{organization}", tag = "admin", operation_id = "admin_remove_community_member",
    responses((status = 200, body = CommunityView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[delete("/communities/{id}/members/{organization}")]
async fn remove_member(
    caller: Caller,
    db: web::Data<Database>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<CommunityView>, ApiError> {
    caller.require(Scope::Admin)?;
    let actor = Actor::from(&caller);
    let (id, member) = (community_id(&path.0)?, org_id(&path.1)?);
    let community = db
        .run(move |conn| partners::remove_community_member(conn, &actor, &id, &member))
        .await?;
    Ok(web::Json(community.into()))
}

// ---- signing keys -----------------------------------------------------------------------

fn key_views(rows: Vec<signing_keys::SigningKeyRow>) -> Vec<SigningKeyView> {
    rows.into_iter().map(SigningKeyView::from).collect()
}

/// List the token signing keys still published.
#[utoipa::path(get, path = "/v1/admin/keys", tag = "admin", operation_id = "admin_list_keys",
    responses((status = 200, body = Vec<SigningKeyView>)),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[get("/keys")]
async fn list_keys(
    caller: Caller,
    db: web::Data<Database>,
    auth: web::Data<AuthService>,
) -> Result<web::Json<Vec<SigningKeyView>>, ApiError> {
    caller.require(Scope::Admin)?;
    let rows = db.run(move |conn| auth.hub_keys().published(conn)).await?;
    Ok(web::Json(key_views(rows)))
}

/// Rotate the token signing key. New tokens are signed with a new key at
/// once; tokens signed with the old key stay valid until they expire.
#[utoipa::path(post, path = "/v1/admin/keys/rotate", tag = "admin", operation_id = "admin_rotate_key",
    responses((status = 200, description = "The new key", body = SigningKeyView)),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[post("/keys/rotate")]
async fn rotate_key(
    caller: Caller,
    db: web::Data<Database>,
    auth: web::Data<AuthService>,
) -> Result<web::Json<SigningKeyView>, ApiError> {
    caller.require(Scope::Admin)?;
    let actor = Actor::from(&caller);
    let algorithm = auth.hub_keys().algorithm().to_owned();
    let auth_for_reload = auth.clone();
    let key = db
        .run(move |conn| -> Result<_, ApiError> {
            let key = partners::rotate_signing_key(
                conn,
                &actor,
                &algorithm,
                auth_for_reload.hub_keys().encryption(),
            )?;
            auth_for_reload.hub_keys().reload(conn)?;
            Ok(key)
        })
        .await?;
    tracing::info!(kid = %key.kid, by = %caller.client_id, "signing key rotated");
    Ok(web::Json(key_views(vec![key]).remove(0)))
}

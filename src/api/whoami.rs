use crate::auth::Caller;
use crate::domain::OrganizationType;
use crate::error::{ApiError, Problem};
use crate::storage::{organizations, Database};
use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrganizationSummary {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub org_type: OrganizationType,
}

/// Who the server thinks you are.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// The organization proven by the client certificate.
    pub organization: OrganizationSummary,
    /// The API client proven by the token.
    pub client_id: String,
    /// Scopes the token grants.
    pub scopes: Vec<String>,
    /// Who issued the token.
    pub issuer: String,
    /// SHA-256 fingerprint (hex) of the connection's client certificate.
    pub certificate_fingerprint: String,
    pub token_expires_at: DateTime<Utc>,
}

/// Show the authenticated caller.
///
/// The first call for a new partner: checks certificate, token and their
/// binding, and shows the organization, client and scopes they prove.
#[utoipa::path(
    get, path = "/v1/whoami", tag = "auth", operation_id = "whoami",
    responses(
        (status = 200, description = "The authenticated caller", body = WhoAmI),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Certificate not registered", body = Problem, content_type = "application/problem+json"),
    ),
    security(("mutual_tls" = [], "bearer" = []))
)]
#[get("/whoami")]
pub async fn whoami(
    caller: Caller,
    db: web::Data<Database>,
) -> Result<web::Json<WhoAmI>, ApiError> {
    let id = caller.organization.clone();
    let organization = db.run(move |conn| organizations::find(conn, &id)).await?;
    Ok(web::Json(WhoAmI {
        organization: OrganizationSummary {
            id: organization.id.to_string(),
            name: organization.name,
            org_type: organization.org_type,
        },
        client_id: caller.client_id,
        scopes: caller.scopes.iter().map(|s| s.to_string()).collect(),
        issuer: caller.issuer,
        certificate_fingerprint: caller.certificate_fingerprint,
        token_expires_at: caller.token_expires_at,
    }))
}

use super::{AuthError, AuthService};
use crate::domain::{OrganizationId, Scope, Scopes};
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;

/// The authenticated caller of a `/v1` request: the organization proven by
/// the client certificate, and the API client and scopes proven by the
/// bearer token bound to it. Provenance is taken from here, never from
/// request bodies.
#[derive(Debug, Clone)]
pub struct Caller {
    pub organization: OrganizationId,
    /// The API client: a hub client id, or `issuer#subject` for partner-issued tokens.
    pub client_id: String,
    pub scopes: Scopes,
    /// The token's issuer (the hub's own, or a trusted partner's).
    pub issuer: String,
    pub certificate_fingerprint: String,
    pub token_expires_at: DateTime<Utc>,
}

impl Caller {
    /// Refuses with 403 unless the token carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope(scope).into())
        }
    }

    /// Refuses with 403 unless the token carries one of `scopes` (the
    /// refusal names the first).
    pub fn require_one_of(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        match scopes.iter().find(|s| self.scopes.contains(**s)) {
            Some(_) => Ok(()),
            None => Err(AuthError::InsufficientScope(scopes[0]).into()),
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let service = req.app_data::<web::Data<AuthService>>().cloned();
        let certificate = super::forwarded::peer_certificate(req);
        let authorization = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let service = service
                .ok_or_else(|| ApiError::Internal("AuthService is not configured".into()))?;
            let caller = service
                .authenticate(certificate, authorization.as_deref())
                .await?;
            tracing::debug!(organization = %caller.organization, client = %caller.client_id, "authenticated");
            Ok(caller)
        })
    }
}

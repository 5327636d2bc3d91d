use super::issuers::PartnerIssuers;
use super::keys::HubKeyStore;
use super::tls::HubCaCheck;
use super::tokens::{self, Claims, Confirmation};
use super::{AuthError, Caller, PeerCertificate};
use crate::config::Settings;
use crate::domain::{ClientId, OrganizationId, OrganizationType, Scope, Scopes};
use crate::error::ApiError;
use crate::storage::{api_clients, certificates, organizations, Database, StorageError};
use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a certificate→organization or client lookup is cached. Admin
/// changes made through this server clear the cache at once; changes made
/// elsewhere take effect within this delay.
const CACHE_TTL: Duration = Duration::from_secs(5);

/// A small time-bounded cache (a handful of entries per partner).
struct TtlCache<V> {
    entries: Mutex<HashMap<String, (V, Instant)>>,
}

impl<V: Clone> TtlCache<V> {
    fn new() -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
        }
    }
    fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(v, _)| v.clone())
    }
    fn put(&self, key: &str, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                entries.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            }
            entries.insert(key.to_owned(), (value, Instant::now()));
        }
    }
    fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// An OAuth 2.0 client-credentials request (RFC 6749 §4.4).
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub scope: Option<String>,
}

/// A freshly issued access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scopes: Scopes,
}

/// Registers a certificate mapped to `organization` by its subject on its
/// first use; returns whether it is in effect now. Supplied by the layer
/// above (`crate::partners::register_subject_mapped`), which audits it.
pub type SubjectMappedHook = fn(
    &mut crate::storage::DbConnection,
    &OrganizationId,
    &PeerCertificate,
    chrono::TimeDelta,
) -> Result<bool, String>;

/// Authentication and token issuing, shared by all workers.
pub struct AuthService {
    db: Database,
    hub_keys: Arc<HubKeyStore>,
    partners: PartnerIssuers,
    issuer: String,
    audience: String,
    token_ttl_secs: u64,
    leeway_secs: u64,
    credential_notice: chrono::TimeDelta,
    hub_ca: Option<HubCaCheck>,
    on_subject_mapped: Option<SubjectMappedHook>,
    identities: TtlCache<Option<OrganizationId>>,
    clients: TtlCache<Option<api_clients::ApiClient>>,
}

fn oauth(status: StatusCode, code: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::OAuth(status, code, description.into())
}

impl AuthService {
    pub fn new(
        settings: &Settings,
        db: Database,
        hub_keys: Arc<HubKeyStore>,
        partners: PartnerIssuers,
    ) -> Result<AuthService, super::tls::TlsError> {
        let hub_ca = match &settings.tls.subject_mapping_ca {
            Some(path) => Some(HubCaCheck::new(path, &settings.tls.crls)?),
            None => None,
        };
        Ok(AuthService {
            db,
            hub_keys,
            partners,
            issuer: settings.auth.issuer.clone(),
            audience: settings.auth.audience.clone(),
            token_ttl_secs: settings.auth.token_ttl_secs,
            leeway_secs: settings.auth.leeway_secs,
            credential_notice: settings.auth.credential_notice(),
            hub_ca,
            on_subject_mapped: None,
            identities: TtlCache::new(),
            clients: TtlCache::new(),
        })
    }

    /// Registers subject-mapped certificates on first use through `hook`
    /// (without one, subject mapping is refused: it would be silent).
    pub fn with_subject_mapping_hook(mut self, hook: SubjectMappedHook) -> AuthService {
        self.on_subject_mapped = Some(hook);
        self
    }

    /// How long a credential added to an onboarded partner stays pending.
    pub fn credential_notice(&self) -> chrono::TimeDelta {
        self.credential_notice
    }

    pub fn hub_keys(&self) -> &HubKeyStore {
        &self.hub_keys
    }

    pub fn partners(&self) -> &PartnerIssuers {
        &self.partners
    }

    /// Forgets cached identities and clients (after an admin change).
    pub fn invalidate_caches(&self) {
        self.identities.clear();
        self.clients.clear();
    }

    /// The organization a verified client certificate belongs to: by its
    /// registered fingerprint, or by its subject when issued by the hub's CA.
    pub async fn identify(
        &self,
        certificate: &Arc<PeerCertificate>,
    ) -> Result<OrganizationId, ApiError> {
        if let Some(cached) = self.identities.get(&certificate.fingerprint) {
            return cached.ok_or(ApiError::Auth(AuthError::UnregisteredCertificate));
        }
        let by_subject = self
            .hub_ca
            .as_ref()
            .is_some_and(|ca| ca.issued_by_hub(certificate));
        let cert = certificate.clone();
        let hook = self.on_subject_mapped;
        let notice = self.credential_notice;
        let found = self
            .db
            .run(
                move |conn| -> Result<Option<OrganizationId>, StorageError> {
                    match certificates::registration(conn, &cert.fingerprint)? {
                        certificates::Registration::Active(org) => return Ok(Some(org)),
                        // A withdrawn registration is final: no fallback to the subject.
                        certificates::Registration::Refused => return Ok(None),
                        certificates::Registration::Unknown => {}
                    }
                    if let (true, Some(hook)) = (by_subject, hook) {
                        if let Some(org) = organizations::find_by_subject(conn, &cert.subject)? {
                            if org.disabled_at.is_none() {
                                // Registered (and audited) now, so the mapping
                                // is never silent; pending for an onboarded partner.
                                let in_effect = hook(conn, &org.id, &cert, notice)
                                    .map_err(StorageError::Unavailable)?;
                                return Ok(in_effect.then_some(org.id));
                            }
                        }
                    }
                    Ok(None)
                },
            )
            .await?;
        self.identities.put(&certificate.fingerprint, found.clone());
        found.ok_or(ApiError::Auth(AuthError::UnregisteredCertificate))
    }

    async fn active_client(
        &self,
        id: &ClientId,
    ) -> Result<Option<api_clients::ApiClient>, ApiError> {
        if let Some(cached) = self.clients.get(id.as_str()) {
            return Ok(cached);
        }
        let lookup = id.clone();
        let client = self
            .db
            .run(move |conn| api_clients::find_active(conn, &lookup))
            .await?;
        self.clients.put(id.as_str(), client.clone());
        Ok(client)
    }

    /// Authenticates a `/v1` request: certificate → organization, then the
    /// bearer token, bound to that certificate and organization.
    pub async fn authenticate(
        &self,
        certificate: Option<Arc<PeerCertificate>>,
        authorization: Option<&str>,
    ) -> Result<Caller, ApiError> {
        let certificate = certificate.ok_or(AuthError::MissingCertificate)?;
        let organization = self.identify(&certificate).await?;
        let token = bearer_token(authorization)?;
        let unverified = tokens::inspect(token)?;

        let (claims, client_id, scopes) = if unverified.issuer == self.issuer {
            unverified.check_type(false)?;
            let claims = self.verify_hub_token(token, &unverified).await?;
            check_binding(&claims, &certificate)?;
            if claims.org.as_deref() != Some(organization.as_str()) {
                return Err(AuthError::OrganizationMismatch.into());
            }
            let client_id = ClientId::parse(&claims.sub)
                .map_err(|_| AuthError::InvalidClaims("bad sub".into()))?;
            let client = self
                .active_client(&client_id)
                .await?
                .ok_or(AuthError::ClientDisabled)?;
            if client.organization_id != organization {
                return Err(AuthError::OrganizationMismatch.into());
            }
            let claimed = Scopes::parse(claims.scope.as_deref().unwrap_or(""))
                .map_err(|e| AuthError::InvalidClaims(e.to_string()))?;
            // Scopes removed from the client since issuance no longer apply.
            let scopes = claimed.intersection(&client.scopes);
            (claims, client_id.to_string(), scopes)
        } else if let Some(partner) = self.partners.get(&unverified.issuer) {
            unverified.check_type(partner.accept_jwt_typ)?;
            let key = match partner.keys().get(&unverified.kid).cloned() {
                Some(key) => key,
                None => {
                    partner.refresh().await;
                    partner
                        .keys()
                        .get(&unverified.kid)
                        .cloned()
                        .ok_or(AuthError::UnknownKey)?
                }
            };
            let claims =
                tokens::verify_signed(token, &unverified, &key, &self.audience, self.leeway_secs)?;
            check_binding(&claims, &certificate)?;
            if partner.organization != organization {
                return Err(AuthError::OrganizationMismatch.into());
            }
            if claims
                .org
                .as_deref()
                .is_some_and(|org| org != organization.as_str())
            {
                return Err(AuthError::OrganizationMismatch.into());
            }
            // Unknown words in a partner's scope claim are ignored, not fatal.
            let claimed: Scopes = claims
                .scope
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|s| s.parse::<Scope>().ok())
                .collect();
            let client = claims
                .client_id
                .clone()
                .unwrap_or_else(|| claims.sub.clone());
            let scopes = claimed.intersection(&partner.allowed_scopes);
            (claims, format!("{}#{}", partner.issuer, client), scopes)
        } else {
            return Err(AuthError::UntrustedIssuer.into());
        };

        let token_expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0)
            .ok_or_else(|| AuthError::InvalidClaims("exp out of range".into()))?;
        Ok(Caller {
            organization,
            client_id,
            scopes,
            issuer: claims.iss,
            certificate_fingerprint: certificate.fingerprint.clone(),
            token_expires_at,
        })
    }

    async fn verify_hub_token(
        &self,
        token: &str,
        unverified: &tokens::UnverifiedToken,
    ) -> Result<Claims, ApiError> {
        let key = match self.hub_keys.verification_key(&unverified.kid) {
            Some(key) => key,
            None => {
                // Another server may have rotated: look again, at most every few seconds.
                let keys = self.hub_keys.clone();
                self.db.run(move |conn| keys.reload_if_stale(conn)).await?;
                self.hub_keys
                    .verification_key(&unverified.kid)
                    .ok_or(AuthError::UnknownKey)?
            }
        };
        Ok(tokens::verify_signed(
            token,
            unverified,
            &key,
            &self.audience,
            self.leeway_secs,
        )?)
    }

    /// The token endpoint: client credentials with mutual-TLS client
    /// authentication (RFC 8705 §2.1). The client must belong to the
    /// organization of the presented certificate.
    pub async fn issue_token(
        &self,
        certificate: Option<Arc<PeerCertificate>>,
        request: TokenRequest,
    ) -> Result<IssuedToken, ApiError> {
        let certificate = certificate.ok_or(AuthError::MissingCertificate)?;
        match request.grant_type.as_deref() {
            Some("client_credentials") => {}
            Some(other) => {
                return Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    format!("grant_type {other:?} is not supported; use client_credentials"),
                ))
            }
            None => {
                return Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "grant_type is required",
                ))
            }
        }
        let client_id = request.client_id.as_deref().ok_or_else(|| {
            oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id is required",
            )
        })?;
        let invalid_client = || {
            oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client, or not registered to the organization of the presented certificate",
            )
        };
        let organization = match self.identify(&certificate).await {
            Ok(org) => org,
            Err(ApiError::Auth(AuthError::UnregisteredCertificate)) => return Err(invalid_client()),
            Err(other) => return Err(other),
        };
        let client_id = ClientId::parse(client_id).map_err(|_| invalid_client())?;
        let lookup = (client_id.clone(), organization.clone());
        let (client, org) = self
            .db
            .run(move |conn| -> Result<_, StorageError> {
                let client = api_clients::find_active(conn, &lookup.0)?;
                let org = organizations::find(conn, &lookup.1)?;
                Ok((client, org))
            })
            .await?;
        let client = client
            .filter(|c| c.organization_id == organization)
            .ok_or_else(invalid_client)?;

        let scopes = match request
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => client.scopes.clone(),
            Some(requested) => {
                let requested = Scopes::parse(requested)
                    .map_err(|e| oauth(StatusCode::BAD_REQUEST, "invalid_scope", e.to_string()))?;
                if !requested.is_subset(&client.scopes) {
                    return Err(oauth(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        format!("client {client_id} may request at most: {}", client.scopes),
                    ));
                }
                requested
            }
        };
        if scopes.contains(Scope::Admin) && org.org_type != OrganizationType::Hub {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "admin is reserved to the hub organization",
            ));
        }

        let key = self
            .hub_keys
            .active()
            .ok_or_else(|| ApiError::Internal("no active signing key".into()))?;
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: client_id.to_string(),
            aud: serde_json::Value::String(self.audience.clone()),
            exp: now + self.token_ttl_secs as i64,
            nbf: Some(now),
            iat: Some(now),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            scope: Some(scopes.to_string()),
            client_id: Some(client_id.to_string()),
            org: Some(organization.to_string()),
            cnf: Some(Confirmation {
                x5t_s256: Some(certificate.thumbprint.clone()),
            }),
        };
        let access_token = tokens::sign(&claims, &key)
            .map_err(|e| ApiError::Internal(format!("signing failed: {e}")))?;
        tracing::info!(organization = %organization, client = %client_id, scopes = %scopes, "access token issued");
        Ok(IssuedToken {
            access_token,
            expires_in: self.token_ttl_secs,
            scopes,
        })
    }
}

/// RFC 8705: the token must name this connection's certificate thumbprint.
fn check_binding(claims: &Claims, certificate: &PeerCertificate) -> Result<(), AuthError> {
    let bound_to = claims.cnf.as_ref().and_then(|c| c.x5t_s256.as_deref());
    if bound_to == Some(certificate.thumbprint.as_str()) {
        Ok(())
    } else {
        Err(AuthError::BindingMismatch)
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.ok_or(AuthError::MissingToken)?;
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or(AuthError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;
    use crate::auth::AuthError;

    #[test]
    fn reads_bearer_tokens_only() {
        assert_eq!(bearer_token(Some("Bearer abc.def.ghi")), Ok("abc.def.ghi"));
        assert_eq!(bearer_token(Some("bearer   xyz ")), Ok("xyz"));
        assert_eq!(
            bearer_token(Some("Basic dXNlcjpwYXNz")),
            Err(AuthError::MissingToken)
        );
        assert_eq!(bearer_token(Some("Bearer ")), Err(AuthError::MissingToken));
        assert_eq!(bearer_token(None), Err(AuthError::MissingToken));
    }
}

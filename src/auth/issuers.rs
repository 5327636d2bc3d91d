//! Partner token issuers: a partner's own identity provider, trusted for one
//! organization, whose public keys come from a JWKS file or URL.
use super::keys::KeySet;
use crate::config::TrustedIssuerSettings;
use crate::domain::{OrganizationId, Scope, Scopes};
use jsonwebtoken::jwk::JwkSet;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How often a file-based JWKS may be read again after an unknown `kid`.
const FILE_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

enum JwksSource {
    File(PathBuf),
    Url(String),
}

pub struct PartnerIssuer {
    pub issuer: String,
    pub organization: OrganizationId,
    /// What the partner's tokens may grant at most (never `admin`).
    pub allowed_scopes: Scopes,
    /// Accept tokens typed `JWT` or untyped besides `at+jwt`.
    pub accept_jwt_typ: bool,
    source: JwksSource,
    /// The shortest time between two fetches of a URL-based JWKS.
    url_refresh: Duration,
    tls: Arc<rustls::ClientConfig>,
    keys: RwLock<(KeySet, Option<Instant>)>,
}

impl PartnerIssuer {
    pub fn keys(&self) -> KeySet {
        self.keys.read().map(|k| k.0.clone()).unwrap_or_default()
    }

    /// Fetches the JWKS again, unless that was done very recently. Returns
    /// whether the key set was replaced.
    pub async fn refresh(&self) -> bool {
        let (interval, last) = match (&self.source, self.keys.read()) {
            (JwksSource::File(_), Ok(k)) => (FILE_REFRESH_INTERVAL, k.1),
            (JwksSource::Url(_), Ok(k)) => (self.url_refresh, k.1),
            (_, Err(_)) => return false,
        };
        if last.is_some_and(|at| at.elapsed() < interval) {
            return false;
        }
        if let Ok(mut keys) = self.keys.write() {
            keys.1 = Some(Instant::now()); // counts as an attempt even if it fails
        }
        match self.fetch().await {
            Ok(set) => {
                let keys = KeySet::from_jwks(&set);
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "partner JWKS loaded");
                if let Ok(mut slot) = self.keys.write() {
                    slot.0 = keys;
                }
                true
            }
            Err(error) => {
                tracing::warn!(issuer = %self.issuer, %error, "cannot load partner JWKS");
                false
            }
        }
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        match &self.source {
            JwksSource::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                serde_json::from_str(&text)
                    .map_err(|e| format!("{}: not a JWKS: {e}", path.display()))
            }
            JwksSource::Url(url) => {
                let client = awc::Client::builder()
                    .connector(awc::Connector::new().rustls_0_23(self.tls.clone()))
                    .timeout(Duration::from_secs(10))
                    .finish();
                let mut response = client
                    .get(url)
                    .send()
                    .await
                    .map_err(|e| format!("{url}: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!("{url}: HTTP {}", response.status()));
                }
                let body = response
                    .body()
                    .limit(1024 * 1024)
                    .await
                    .map_err(|e| format!("{url}: {e}"))?;
                serde_json::from_slice(&body).map_err(|e| format!("{url}: not a JWKS: {e}"))
            }
        }
    }
}

/// Every trusted partner issuer, by `iss`.
#[derive(Default, Clone)]
pub struct PartnerIssuers {
    by_issuer: HashMap<String, Arc<PartnerIssuer>>,
}

impl PartnerIssuers {
    /// Builds the issuers from settings (already validated). JWKS are loaded by [`Self::refresh_all`].
    pub fn from_settings(settings: &[TrustedIssuerSettings]) -> Result<PartnerIssuers, String> {
        let tls_trusting = |extra: Option<&std::path::Path>| -> Result<_, String> {
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            if let Some(path) = extra {
                for certificate in rustls::pki_types::CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                {
                    let certificate =
                        certificate.map_err(|e| format!("{}: {e}", path.display()))?;
                    roots
                        .add(certificate)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
            }
            Ok(Arc::new(
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth(),
            ))
        };
        let public_only = tls_trusting(None)?;
        let mut by_issuer = HashMap::new();
        for s in settings {
            let organization = OrganizationId::parse(&s.organization).map_err(|e| e.to_string())?;
            let allowed_scopes: Scopes = s
                .allowed_scopes
                .iter()
                .map(|v| v.parse::<Scope>())
                .collect::<Result<Scopes, _>>()
                .map_err(|e| e.to_string())?;
            let source = match (&s.jwks_file, &s.jwks_url) {
                (Some(file), _) => JwksSource::File(file.clone()),
                (None, Some(url)) => JwksSource::Url(url.clone()),
                (None, None) => return Err(format!("issuer {} has no JWKS source", s.issuer)),
            };
            let issuer = PartnerIssuer {
                issuer: s.issuer.clone(),
                organization,
                allowed_scopes: allowed_scopes
                    .iter()
                    .filter(|s| *s != Scope::Admin)
                    .collect(),
                accept_jwt_typ: s.accept_jwt_typ,
                source,
                url_refresh: Duration::from_secs(s.jwks_refresh_secs),
                tls: match &s.jwks_ca {
                    Some(ca) => tls_trusting(Some(ca))?,
                    None => public_only.clone(),
                },
                keys: RwLock::new((KeySet::default(), None)),
            };
            by_issuer.insert(s.issuer.clone(), Arc::new(issuer));
        }
        Ok(PartnerIssuers { by_issuer })
    }

    pub fn get(&self, issuer: &str) -> Option<Arc<PartnerIssuer>> {
        self.by_issuer.get(issuer).cloned()
    }

    pub async fn refresh_all(&self) {
        for issuer in self.by_issuer.values() {
            issuer.refresh().await;
        }
    }
}

//! The API listener's rustls configuration: mutual TLS is mandatory, client
//! certificates must chain to the configured CA bundle and not be revoked
//! by a configured CRL. Also the `on_connect` hook that hands the verified
//! certificate to request handlers.
use super::PeerCertificate;
use crate::config::TlsSettings;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::any::Any;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

fn file_error(path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "contains no PEM certificate"));
    }
    Ok(certs)
}

fn load_crl(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    if bytes.starts_with(b"-----BEGIN") {
        CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_error(path, e))
    } else {
        Ok(vec![CertificateRevocationListDer::from(bytes)])
    }
}

fn roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certificates(path)? {
        roots.add(cert).map_err(|e| file_error(path, e))?;
    }
    Ok(Arc::new(roots))
}

/// A verifier that requires a client certificate chaining to `ca_bundle` and
/// not revoked by any of `crls`. Certificates of CAs without a configured CRL
/// are accepted (partners' CAs may publish no CRL to the hub).
pub fn client_verifier(
    ca_bundle: &Path,
    crls: &[std::path::PathBuf],
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let mut all_crls = Vec::new();
    for crl in crls {
        all_crls.extend(load_crl(crl)?);
    }
    WebPkiClientVerifier::builder_with_provider(roots(ca_bundle)?, provider())
        .with_crls(all_crls)
        .allow_unknown_revocation_status()
        .build()
        .map_err(|e| TlsError::Rustls(e.to_string()))
}

/// The API listener's server configuration.
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let verifier = client_verifier(&settings.client_ca, &settings.crls)?;
    let chain = load_certificates(&settings.cert)?;
    let key =
        PrivateKeyDer::from_pem_file(&settings.key).map_err(|e| file_error(&settings.key, e))?;
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))
}

/// Checks that a certificate was issued by the hub's own CA (used before
/// mapping certificates to organizations by subject).
pub struct HubCaCheck {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl HubCaCheck {
    pub fn new(hub_ca: &Path, crls: &[std::path::PathBuf]) -> Result<Self, TlsError> {
        Ok(HubCaCheck {
            verifier: client_verifier(hub_ca, crls)?,
        })
    }

    pub fn issued_by_hub(&self, certificate: &PeerCertificate) -> bool {
        let (leaf, intermediates) = certificate.chain.split_at(1);
        self.verifier
            .verify_client_cert(&leaf[0], intermediates, UnixTime::now())
            .is_ok()
    }
}

/// `HttpServer::on_connect` hook: stores the verified peer certificate in the
/// connection's data, where [`crate::auth::Caller`] finds it.
pub fn on_connect(connection: &dyn Any, data: &mut actix_web::dev::Extensions) {
    type Stream = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    let Some(stream) = connection.downcast_ref::<Stream>() else {
        return;
    };
    let (_, session) = stream.get_ref();
    if let Some(chain) = session.peer_certificates() {
        match PeerCertificate::from_chain(chain.iter().map(|c| c.clone().into_owned()).collect()) {
            Ok(certificate) => {
                data.insert(Arc::new(certificate));
            }
            Err(error) => tracing::warn!(%error, "verified client certificate could not be parsed"),
        }
    }
}

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

/// How often the client CA bundle and the CRLs are checked for changes.
pub const RELOAD_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// The client certificate verifier of the API listener, rebuilt from
/// `tls.client_ca` and `tls.crls` when they change (see
/// [`ReloadingClientVerifier::reload_if_changed`]) or on SIGHUP, without a
/// restart. New handshakes use the files as last loaded; connections
/// already open keep the verdict of their handshake. A file that cannot be
/// read or parsed is reported and the previous verifier stays in use.
#[derive(Debug)]
pub struct ReloadingClientVerifier {
    ca_bundle: std::path::PathBuf,
    crls: Vec<std::path::PathBuf>,
    current: std::sync::RwLock<Loaded>,
    /// (modification time, length) of the CA bundle and each CRL, as last read.
    stamps: std::sync::Mutex<Vec<Option<(std::time::SystemTime, u64)>>>,
}

#[derive(Debug, Clone)]
struct Loaded {
    verifier: Arc<dyn ClientCertVerifier>,
    /// Names of the accepted CAs, sent to clients as hints. rustls borrows
    /// them from the verifier for a handshake, so each loaded set is kept
    /// for the life of the process (a few hundred bytes per reload).
    hints: &'static [rustls::DistinguishedName],
}

impl ReloadingClientVerifier {
    pub fn new(
        ca_bundle: &Path,
        crls: &[std::path::PathBuf],
    ) -> Result<Arc<ReloadingClientVerifier>, TlsError> {
        let this = ReloadingClientVerifier {
            ca_bundle: ca_bundle.to_owned(),
            crls: crls.to_vec(),
            current: std::sync::RwLock::new(Loaded::load(ca_bundle, crls)?),
            stamps: Default::default(),
        };
        *this.stamps.lock().unwrap_or_else(|p| p.into_inner()) = this.stamps();
        Ok(Arc::new(this))
    }

    fn loaded(&self) -> Loaded {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn stamps(&self) -> Vec<Option<(std::time::SystemTime, u64)>> {
        std::iter::once(&self.ca_bundle)
            .chain(&self.crls)
            .map(|path| {
                let meta = std::fs::metadata(path).ok()?;
                Some((meta.modified().ok()?, meta.len()))
            })
            .collect()
    }

    /// Reloads the files now; on failure keeps the verifier in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        // Remembered even when loading fails: the same broken files are
        // not retried (and reported) every interval, only once changed.
        *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) = self.stamps();
        let loaded = Loaded::load(&self.ca_bundle, &self.crls)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        Ok(())
    }

    /// Reloads when a file's modification time or length changed since the
    /// last load; `Ok(true)` when it did reload.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        if self.stamps() == *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(false);
        }
        self.reload().map(|()| true)
    }

    /// Watches the files (every [`RELOAD_CHECK_INTERVAL`]) and SIGHUP;
    /// logs each reload and each failure.
    pub async fn watch(self: Arc<Self>) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = signal(SignalKind::hangup()).ok();
        if hangup.is_none() {
            tracing::warn!("cannot handle SIGHUP; client CA and CRL files are still watched");
        }
        let mut tick = tokio::time::interval(RELOAD_CHECK_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let signalled = match hangup.as_mut() {
                Some(hangup) => tokio::select! {
                    _ = hangup.recv() => true,
                    _ = tick.tick() => false,
                },
                None => {
                    tick.tick().await;
                    false
                }
            };
            let outcome = if signalled {
                self.reload().map(|()| true)
            } else {
                self.reload_if_changed()
            };
            match outcome {
                Ok(true) => tracing::info!(
                    client_ca = %self.ca_bundle.display(),
                    crls = self.crls.len(),
                    trigger = if signalled { "SIGHUP" } else { "file change" },
                    "client CA bundle and CRLs reloaded"
                ),
                Ok(false) => {}
                Err(error) => tracing::error!(
                    %error,
                    "cannot reload the client CA bundle or CRLs; the previous ones stay in use"
                ),
            }
        }
    }
}

impl Loaded {
    fn load(ca_bundle: &Path, crls: &[std::path::PathBuf]) -> Result<Loaded, TlsError> {
        let verifier = client_verifier(ca_bundle, crls)?;
        let hints: &'static [rustls::DistinguishedName] =
            Box::leak(verifier.root_hint_subjects().to_vec().into_boxed_slice());
        Ok(Loaded { verifier, hints })
    }
}

impl ClientCertVerifier for ReloadingClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.loaded().verifier.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.loaded().verifier.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.loaded().hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        self.loaded()
            .verifier
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.loaded()
            .verifier
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.loaded()
            .verifier
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.loaded().verifier.supported_verify_schemes()
    }
}

/// The API listener's server configuration, with the verifier that
/// reloads the client CA bundle and CRLs (run its `watch`).
pub fn server_config(
    settings: &TlsSettings,
) -> Result<(ServerConfig, Arc<ReloadingClientVerifier>), TlsError> {
    let reloading = ReloadingClientVerifier::new(&settings.client_ca, &settings.crls)?;
    let verifier: Arc<dyn ClientCertVerifier> = reloading.clone();
    let chain = load_certificates(&settings.cert)?;
    let key =
        PrivateKeyDer::from_pem_file(&settings.key).map_err(|e| file_error(&settings.key, e))?;
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map(|config| (config, reloading))
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

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};

/// The verified client certificate of a TLS connection (leaf first), with
/// the values derived from it that authentication needs.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    /// DER of the whole chain the client sent, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Lower-case hex SHA-256 of the leaf's DER: how organizations register certificates.
    pub fingerprint: String,
    /// base64url SHA-256 of the leaf's DER: the `cnf.x5t#S256` of bound tokens (RFC 8705).
    pub thumbprint: String,
    /// Subject distinguished name, as x509-parser prints it (`CN=…, O=…`).
    pub subject: String,
    /// Serial number, lower-case hex.
    pub serial: String,
    pub not_after: DateTime<Utc>,
}

/// Why a certificate could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot parse certificate: {0}")]
pub struct CertificateParseError(String);

impl PeerCertificate {
    pub fn from_chain(chain: Vec<CertificateDer<'static>>) -> Result<Self, CertificateParseError> {
        let leaf = chain
            .first()
            .ok_or_else(|| CertificateParseError("empty chain".into()))?;
        let digest = Sha256::digest(leaf.as_ref());
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|e| CertificateParseError(e.to_string()))?;
        let not_after = DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0)
            .ok_or_else(|| CertificateParseError("validity out of range".into()))?;
        Ok(PeerCertificate {
            fingerprint: hex::encode(digest),
            thumbprint: URL_SAFE_NO_PAD.encode(digest),
            subject: parsed.subject().to_string(),
            serial: parsed.raw_serial_as_string().replace(':', ""),
            not_after,
            chain,
        })
    }

    /// Reads the first certificate of a PEM text (for registering certificates).
    pub fn from_pem(pem: &str) -> Result<Self, CertificateParseError> {
        use rustls::pki_types::pem::PemObject;
        let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CertificateParseError(format!("invalid PEM: {e}")))?;
        Self::from_chain(chain)
    }

    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }
}

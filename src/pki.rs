//! A small certificate authority for development and for hubs that issue
//! their partners' certificates themselves: CA, server and client
//! certificates, certificate revocation lists, and PKCS#12 files that put a
//! certificate and its key into a browser. Used by `tracewire pki`,
//! `tracewire demo` and the integration tests.
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
};
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("PKCS#12 file: {0}")]
    Pkcs12(#[from] openssl::error::ErrorStack),
}

/// A certificate, its key and the CA that issued it as one PKCS#12 file
/// (DER) that browsers and NSS's `pk12util` import, encrypted under
/// `password` with OpenSSL's defaults (AES-256-CBC, PBKDF2, HMAC-SHA-256).
/// `friendly_name` is the name the browser lists it under.
pub fn pkcs12(
    issued: &IssuedCertificate,
    ca_cert_pem: &str,
    friendly_name: &str,
    password: &str,
) -> Result<Vec<u8>, PkiError> {
    use openssl::{pkcs12::Pkcs12, pkey::PKey, stack::Stack, x509::X509};
    let mut chain = Stack::new()?;
    chain.push(X509::from_pem(ca_cert_pem.as_bytes())?)?;
    let key = PKey::private_key_from_pem(issued.key_pem.as_bytes())?;
    let cert = X509::from_pem(issued.cert_pem.as_bytes())?;
    let file = Pkcs12::builder()
        .name(friendly_name)
        .pkey(&key)
        .cert(&cert)
        .ca(chain)
        .build2(password)?;
    Ok(file.to_der()?)
}

/// A random password of 24 lower-case hex digits (96 bits), safe to type
/// and to paste into a shell.
pub fn random_password() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 12];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random generator is available");
    hex::encode(bytes)
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    /// Lower-case hex serial number.
    pub serial: String,
}

/// A CA able to issue certificates and CRLs.
pub struct CertificateAuthority {
    pub cert_pem: String,
    pub key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn random_serial() -> SerialNumber {
    let mut bytes = *uuid::Uuid::new_v4().as_bytes();
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // no leading zero byte: the DER stays 16 bytes
    SerialNumber::from_slice(&bytes)
}

fn serial_hex(serial: &SerialNumber) -> String {
    hex::encode(serial.as_ref())
}

fn name(organization: Option<&str>, common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, org);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days);
}

impl CertificateAuthority {
    /// Creates a new self-signed root CA.
    pub fn create(common_name: &str, days: i64) -> Result<CertificateAuthority, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(None, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial());
        validity(&mut params, days);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(CertificateAuthority {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads an existing CA from its PEM certificate and key.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<CertificateAuthority, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(CertificateAuthority {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer,
        })
    }

    /// A TLS server certificate for the given DNS names and IP addresses.
    pub fn issue_server(&self, hosts: &[String], days: i64) -> Result<IssuedCertificate, PkiError> {
        let first = hosts
            .first()
            .ok_or_else(|| PkiError::Invalid("at least one host name or IP is required".into()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(None, first);
        params.subject_alt_names =
            hosts
                .iter()
                .map(|host| match host.parse::<IpAddr>() {
                    Ok(ip) => Ok(SanType::IpAddress(ip)),
                    Err(_) => host.clone().try_into().map(SanType::DnsName).map_err(|_| {
                        PkiError::Invalid(format!("{host:?} is not a valid DNS name"))
                    }),
                })
                .collect::<Result<_, _>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(params, days)
    }

    /// A TLS client certificate for an organization (subject `O=<organization>, CN=<common_name>`).
    pub fn issue_client(
        &self,
        organization: &str,
        common_name: &str,
        days: i64,
    ) -> Result<IssuedCertificate, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(Some(organization), common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(params, days)
    }

    fn issue(
        &self,
        mut params: CertificateParams,
        days: i64,
    ) -> Result<IssuedCertificate, PkiError> {
        if !(1..=3650).contains(&days) {
            return Err(PkiError::Invalid(
                "validity must be between 1 and 3650 days".into(),
            ));
        }
        let serial = random_serial();
        params.serial_number = Some(serial.clone());
        validity(&mut params, days);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial: serial_hex(&serial),
        })
    }

    /// A CRL listing the given serial numbers (hex), valid for `days`.
    pub fn crl(
        &self,
        revoked_serials: &[String],
        crl_number: u64,
        days: i64,
    ) -> Result<String, PkiError> {
        let now = OffsetDateTime::now_utc();
        let revoked_certs = revoked_serials
            .iter()
            .map(|serial| {
                let bytes = hex::decode(serial.trim()).map_err(|_| {
                    PkiError::Invalid(format!("{serial:?} is not a hex serial number"))
                })?;
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&bytes),
                    revocation_time: now,
                    reason_code: None,
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>, PkiError>>()?;
        let params = CertificateRevocationListParams {
            this_update: now - Duration::minutes(5),
            next_update: now + Duration::days(days),
            crl_number: SerialNumber::from(crl_number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::PeerCertificate;

    #[test]
    fn issues_client_certificates_with_organization_subject() {
        let ca = CertificateAuthority::create("Test CA", 30).unwrap();
        let client = ca
            .issue_client("Acme Forensics", "acme-forensics", 30)
            .unwrap();
        let parsed = PeerCertificate::from_pem(&client.cert_pem).unwrap();
        assert!(
            parsed.subject.contains("O=Acme Forensics"),
            "{}",
            parsed.subject
        );
        assert_eq!(parsed.serial, client.serial);
        assert_eq!(parsed.fingerprint.len(), 64);
    }

    #[test]
    fn reloaded_ca_issues_and_revokes() {
        let ca = CertificateAuthority::create("Test CA", 30).unwrap();
        let again = CertificateAuthority::load(&ca.cert_pem, &ca.key_pem).unwrap();
        let server = again
            .issue_server(&["localhost".into(), "127.0.0.1".into()], 30)
            .unwrap();
        let crl = again
            .crl(std::slice::from_ref(&server.serial), 1, 7)
            .unwrap();
        assert!(crl.starts_with("-----BEGIN X509 CRL-----"));
        assert!(again.crl(&["zz".into()], 2, 7).is_err());
    }

    #[test]
    fn pkcs12_holds_the_certificate_key_and_ca_under_its_password() {
        use openssl::pkcs12::Pkcs12;
        let ca = CertificateAuthority::create("Test CA", 30).unwrap();
        let client = ca.issue_client("Safe Harbor", "safe-harbor", 30).unwrap();
        let password = random_password();
        assert_eq!(password.len(), 24);
        assert_ne!(password, random_password());
        let der = pkcs12(&client, &ca.cert_pem, "Safe Harbor", &password).unwrap();

        let parsed = Pkcs12::from_der(&der).unwrap().parse2(&password).unwrap();
        let cert = parsed.cert.unwrap();
        assert_eq!(
            cert.to_pem().unwrap(),
            openssl::x509::X509::from_pem(client.cert_pem.as_bytes())
                .unwrap()
                .to_pem()
                .unwrap()
        );
        let key = parsed.pkey.unwrap();
        assert!(cert.public_key().unwrap().public_eq(&key));
        let chain = parsed.ca.unwrap();
        assert_eq!(chain.len(), 1);
        assert_eq!(
            chain.get(0).unwrap().to_der().unwrap(),
            openssl::x509::X509::from_pem(ca.cert_pem.as_bytes())
                .unwrap()
                .to_der()
                .unwrap()
        );
        // The wrong password opens nothing.
        assert!(Pkcs12::from_der(&der).unwrap().parse2("wrong").is_err());
    }
}

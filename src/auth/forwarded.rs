//! The client certificate a TLS-terminating proxy forwards in a header,
//! accepted only from the proxy addresses the operator names
//! (`api.trusted_proxies`).
//!
//! The proxy still connects over mutual TLS (with a certificate of its own
//! from `tls.client_ca`), and puts the partner's verified certificate in
//! `api.forwarded_certificate_header`: URL-encoded PEM (nginx
//! `$ssl_client_escaped_cert`), plain or base64 DER (HAProxy
//! `%[ssl_c_der,base64]`). tracewire checks that certificate again itself,
//! with the same CA bundle and CRLs as the TLS listener, so a proxy cannot
//! forward anything the listener would have refused. From any other address
//! the header is ignored: the connection's own certificate counts.
use super::{AuthError, PeerCertificate};
use actix_web::http::header::{HeaderMap, HeaderName};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use std::net::IpAddr;
use std::sync::Arc;

/// One entry of `api.trusted_proxies`: an address, or a network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNetwork {
    address: IpAddr,
    prefix: u8,
}

impl ProxyNetwork {
    pub fn parse(text: &str) -> Result<ProxyNetwork, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR network"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(ProxyNetwork { address, prefix })
    }

    pub fn contains(&self, peer: IpAddr) -> bool {
        let as_bits = |ip: IpAddr| -> (u128, u8) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => (u128::from(u32::from(v4)), 32),
                    None => (u128::from(v6), 128),
                },
            }
        };
        let (network, width) = as_bits(self.address);
        let (peer, peer_width) = as_bits(peer);
        if width != peer_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
        let mask = if width == 32 {
            mask & u128::from(u32::MAX)
        } else {
            mask
        };
        network & mask == peer & mask
    }
}

/// Forwarded client certificates, as configured.
pub struct ForwardedCertificates {
    proxies: Vec<ProxyNetwork>,
    header: HeaderName,
    verifier: Arc<dyn ClientCertVerifier>,
}

/// The certificate that identifies a request, when a trusted proxy forwarded one.
#[derive(Debug, Clone)]
pub struct ForwardedPeer(pub Arc<PeerCertificate>);

impl ForwardedCertificates {
    /// `None` when no proxy is trusted (the header is then never read).
    pub fn new(
        proxies: &[String],
        header: &str,
        verifier: Arc<dyn ClientCertVerifier>,
    ) -> Result<Option<ForwardedCertificates>, String> {
        if proxies.is_empty() {
            return Ok(None);
        }
        let proxies = proxies
            .iter()
            .map(|p| ProxyNetwork::parse(p))
            .collect::<Result<_, _>>()?;
        let header =
            HeaderName::try_from(header).map_err(|_| format!("{header:?} is not a header name"))?;
        Ok(Some(ForwardedCertificates {
            proxies,
            header,
            verifier,
        }))
    }

    /// The forwarded certificate of a request from `peer`, verified; `None`
    /// when the peer is not a trusted proxy or sent no such header.
    pub fn resolve(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<Option<PeerCertificate>, AuthError> {
        let Some(value) = headers.get(&self.header) else {
            return Ok(None);
        };
        let trusted = peer.is_some_and(|ip| self.proxies.iter().any(|p| p.contains(ip)));
        if !trusted {
            return Ok(None);
        }
        let invalid = |why: &str| AuthError::ForwardedCertificateInvalid(why.to_owned());
        let text = value
            .to_str()
            .map_err(|_| invalid("the header is not ASCII"))?;
        let chain =
            parse_chain(text).ok_or_else(|| invalid("not a PEM or base64 DER certificate"))?;
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or_else(|| invalid("no certificate"))?;
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map_err(|e| invalid(&format!("refused: {e}")))?;
        PeerCertificate::from_chain(chain.clone())
            .map(Some)
            .map_err(|e| invalid(&e.to_string()))
    }
}

/// URL-encoded or plain PEM (one or more certificates), or base64 DER.
fn parse_chain(text: &str) -> Option<Vec<CertificateDer<'static>>> {
    let decoded = percent_encoding::percent_decode_str(text.trim())
        .decode_utf8()
        .ok()?
        .into_owned();
    if decoded.contains("-----BEGIN CERTIFICATE-----") {
        // Some proxies fold the PEM onto one line with spaces for newlines.
        let pem = decoded
            .replace("----- ", "-----\n")
            .replace(" -----", "\n-----");
        let chain: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .ok()?;
        return (!chain.is_empty()).then_some(chain);
    }
    let der = STANDARD
        .decode(decoded.trim().replace(char::is_whitespace, ""))
        .ok()?;
    Some(vec![CertificateDer::from(der)])
}

/// The client certificate that identifies `req`: the one a trusted proxy
/// forwarded (see the `forwarded_certificates` middleware), else the TLS
/// connection's own.
pub fn peer_certificate(req: &actix_web::HttpRequest) -> Option<Arc<PeerCertificate>> {
    use actix_web::HttpMessage;
    if let Some(forwarded) = req.extensions().get::<ForwardedPeer>() {
        return Some(forwarded.0.clone());
    }
    req.conn_data::<Arc<PeerCertificate>>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_networks_match_addresses_and_cidrs() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let one = ProxyNetwork::parse("10.0.0.5").unwrap();
        assert!(one.contains(ip("10.0.0.5")));
        assert!(!one.contains(ip("10.0.0.6")));
        let net = ProxyNetwork::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped IPv6");
        let v6 = ProxyNetwork::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.1.0.1")));
        assert!(ProxyNetwork::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("8.8.8.8")));
        for bad in ["", "10.0.0", "10.0.0.0/33", "::/129", "proxy.local"] {
            assert!(ProxyNetwork::parse(bad).is_err(), "{bad}");
        }
    }
}

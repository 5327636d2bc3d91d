//! The client CA bundle and the CRLs are reloaded without a restart: when
//! their files change, and on SIGHUP. A file that cannot be parsed leaves
//! the previous ones in force.
use crate::helpers::{client_tls_config, TestApp, TestBackend};
use crate::process::ServerProcess;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracewire::domain::OrganizationType;
use tracewire::pki::{CertificateAuthority, IssuedCertificate};

/// A TLS handshake and one request: `Ok` with the status line, or the
/// TLS error the server ended the handshake with.
async fn handshake(
    port: u16,
    ca_pem: &str,
    certificate: &IssuedCertificate,
) -> Result<String, String> {
    let config = client_tls_config(ca_pem, Some(certificate));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"GET /v1/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// Polls `check` until it holds (at most 20 s); returns how long it took.
async fn eventually<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        match check().await {
            Ok(()) => return started.elapsed(),
            Err(last) if started.elapsed() > Duration::from_secs(20) => {
                panic!("{what}: still not after 20 s: {last}")
            }
            Err(_) => actix_web::rt::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[actix_web::test]
async fn changed_crl_and_client_ca_apply_without_restart() {
    let app = TestApp::spawn(TestBackend::Sqlite).await;
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let (port, ca) = (app.api_port, app.pki.ca.cert_pem.clone());
    let served = handshake(port, &ca, &acme.certificate).await.unwrap();
    assert!(served.starts_with("HTTP/1.1 "), "{served}");

    // Revoking acme's certificate in the configured CRL file ends its handshakes.
    let crl_path = app.pki.dir.join("crl.pem");
    let revoking = app
        .pki
        .ca
        .crl(std::slice::from_ref(&acme.certificate.serial), 2, 30)
        .unwrap();
    std::fs::write(&crl_path, &revoking).unwrap();
    let took = eventually("revocation applied", || async {
        match handshake(port, &ca, &acme.certificate).await {
            Err(e) if e.contains("CertificateRevoked") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    eprintln!("CRL change applied within {took:?}");

    // A CA added to the client CA bundle is trusted from then on.
    let partner_ca = CertificateAuthority::create("partner CA", 30).unwrap();
    let partner = partner_ca.issue_client("beta inc", "beta", 30).unwrap();
    let refused = handshake(port, &ca, &partner).await.unwrap_err();
    assert!(
        refused.contains("UnknownCA") || refused.contains("BadCertificate"),
        "{refused}"
    );
    let bundle_path = app.pki.dir.join("ca.pem");
    let bundle = format!("{}{}", app.pki.ca.cert_pem, partner_ca.cert_pem);
    std::fs::write(&bundle_path, &bundle).unwrap();
    eventually("partner CA trusted", || async {
        match handshake(port, &ca, &partner).await {
            // Through TLS; the API then refuses the unregistered certificate.
            Ok(status) if status.starts_with("HTTP/1.1 403") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // A CRL file that does not parse is reported and ignored: what was
    // loaded last stays in force.
    std::fs::write(
        &crl_path,
        "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n",
    )
    .unwrap();
    actix_web::rt::time::sleep(tracewire::auth::tls::RELOAD_CHECK_INTERVAL * 3).await;
    let still = handshake(port, &ca, &acme.certificate).await.unwrap_err();
    assert!(still.contains("CertificateRevoked"), "{still}");
    let partner_still = handshake(port, &ca, &partner).await.unwrap();
    assert!(partner_still.starts_with("HTTP/1.1 403"), "{partner_still}");
    app.stop().await;
}

/// SIGHUP reloads at once (and does not end the server, as it would by default).
#[actix_web::test]
async fn sighup_reloads_the_crls() {
    let dir = tempfile::tempdir().unwrap();
    let database = crate::helpers::TestDatabase::create(&TestBackend::Sqlite, dir.path());
    let mut server = ServerProcess::start(dir.path(), &database.url, "").await;
    let (port, ca) = (server.api_port, server.pki.ca.cert_pem.clone());
    let partner = server.partner.certificate.clone();
    assert!(handshake(port, &ca, &partner)
        .await
        .unwrap()
        .starts_with("HTTP/1.1 "));

    std::fs::write(
        server.pki.dir.join("crl.pem"),
        server
            .pki
            .ca
            .crl(std::slice::from_ref(&partner.serial), 2, 30)
            .unwrap(),
    )
    .unwrap();
    server.signal("HUP");
    eventually("revocation applied", || async {
        match handshake(port, &ca, &partner).await {
            Err(e) if e.contains("CertificateRevoked") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    eventually("reload logged", || async {
        let log = server.stderr();
        if log.contains("client CA bundle and CRLs reloaded") && log.contains("SIGHUP") {
            Ok(())
        } else {
            Err(log)
        }
    })
    .await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "SIGHUP ended the server"
    );
    server.signal("TERM");
    let status = server.wait_for_exit(Duration::from_secs(60)).await;
    assert!(status.success(), "{status:?}");
}

//! Mutual TLS: the handshake refuses clients without a certificate, with a
//! certificate from another CA, or with a revoked one; a valid but
//! unregistered certificate gets through TLS and is refused by the API.
use crate::helpers::{client_tls_config, TestApp, TestBackend};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracewire::domain::OrganizationType;
use tracewire::pki::CertificateAuthority;

/// Connects with raw rustls, sends one HTTP/1.1 request and reads the
/// answer; returns the TLS/IO error text when the server refuses.
async fn raw_request(port: u16, config: rustls::ClientConfig) -> Result<String, String> {
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
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

async fn no_client_certificate_ends_the_handshake(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let error = raw_request(app.api_port, client_tls_config(&app.pki.ca.cert_pem, None))
        .await
        .unwrap_err();
    assert!(error.contains("CertificateRequired"), "{error}");
}

async fn certificate_from_another_ca_ends_the_handshake(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let rogue_ca = CertificateAuthority::create("rogue CA", 30).unwrap();
    // Same subject as a real partner, but not issued by the hub's trusted CA.
    let rogue = rogue_ca.issue_client("acme inc", "acme", 30).unwrap();
    let error = raw_request(
        app.api_port,
        client_tls_config(&app.pki.ca.cert_pem, Some(&rogue)),
    )
    .await
    .unwrap_err();
    assert!(
        error.contains("UnknownCA") || error.contains("BadCertificate"),
        "{error}"
    );
}

async fn revoked_certificate_ends_the_handshake(backend: TestBackend) {
    let mut revoked = None;
    let mut healthy = None;
    let app = TestApp::spawn_with(backend, |settings, pki| {
        let cert = pki.ca.issue_client("acme inc", "acme", 30).unwrap();
        let other = pki.ca.issue_client("beta inc", "beta", 30).unwrap();
        let crl = pki.dir.join("revoked.pem");
        std::fs::write(
            &crl,
            pki.ca
                .crl(std::slice::from_ref(&cert.serial), 2, 30)
                .unwrap(),
        )
        .unwrap();
        settings.tls.crls = vec![crl];
        revoked = Some(cert);
        healthy = Some(other);
    })
    .await;
    // Both are registered: only the CRL tells them apart.
    let revoked = app.add_org_with_certificate(
        "acme",
        OrganizationType::Forensics,
        "indicators:read",
        revoked.unwrap(),
    );
    let healthy = app.add_org_with_certificate(
        "beta",
        OrganizationType::Ngo,
        "indicators:read",
        healthy.unwrap(),
    );

    let error = raw_request(
        app.api_port,
        client_tls_config(&app.pki.ca.cert_pem, Some(&revoked.certificate)),
    )
    .await
    .unwrap_err();
    assert!(error.contains("CertificateRevoked"), "{error}");

    let token = app.token(&healthy).await;
    let reply = app.get(&healthy, "/v1/whoami", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

async fn unregistered_certificate_is_refused_by_the_api(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let registered = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let stranger_cert = app
        .pki
        .ca
        .issue_client("stranger inc", "stranger", 30)
        .unwrap();
    let stranger = crate::helpers::TestOrg {
        id: "stranger".into(),
        certificate: stranger_cert,
        client_id: registered.client_id.clone(),
    };

    // Even with another organization's client id, no token is issued.
    let (status, body) = app
        .request_token(&stranger, &registered.client_id, None)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["type"], "urn:tracewire:problem:oauth-invalid-client");

    // And a valid token of another organization does not help either.
    let token = app.token(&registered).await;
    let reply = app.get(&stranger, "/v1/whoami", Some(&token)).await;
    reply.assert_problem(403, "certificate-not-registered");
}

async fn certificates_under_the_hub_ca_map_by_subject(backend: TestBackend) {
    let app = TestApp::spawn_with(backend, |settings, pki| {
        settings.tls.subject_mapping_ca = Some(pki.dir.join("ca.pem"));
    })
    .await;
    let org = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    // A second certificate, never registered by fingerprint, subject mapped instead.
    let second = app
        .pki
        .ca
        .issue_client("Acme Mapped", "acme-2", 30)
        .unwrap();
    let subject = tracewire::auth::PeerCertificate::from_pem(&second.cert_pem)
        .unwrap()
        .subject;
    {
        use diesel::prelude::*;
        use tracewire::storage::schema::organizations;
        let mut conn = app.db.get().unwrap();
        diesel::update(organizations::table.find("acme"))
            .set(organizations::certificate_subject.eq(Some(subject)))
            .execute(&mut *conn)
            .unwrap();
    }
    let fingerprint = tracewire::auth::PeerCertificate::from_pem(&second.cert_pem)
        .unwrap()
        .fingerprint;
    let mapped = crate::helpers::TestOrg {
        certificate: second,
        ..org.clone()
    };
    // Its first use registers it, audited and shown to Acme; Acme is
    // onboarded, so it is pending until Acme confirms it (the hub's CA
    // cannot silently speak for a partner).
    let (status, body) = app.request_token(&mapped, &mapped.client_id, None).await;
    assert_eq!(status, 401, "{body}");
    let own_token = app.token(&org).await;
    let own = app.get(&org, "/v1/organization", Some(&own_token)).await;
    assert!(
        own.body["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["fingerprint"] == fingerprint.as_str() && c["pending_until"].is_string()),
        "{}",
        own.body
    );
    let history = app
        .get(&org, "/v1/organization/history", Some(&own_token))
        .await;
    assert!(
        history
            .body
            .to_string()
            .contains("admin.certificate.subject_mapped"),
        "{}",
        history.body
    );
    let confirmed = app
        .send_json(
            &org,
            awc::http::Method::POST,
            &format!("/v1/organization/certificates/{fingerprint}/confirm"),
            &own_token,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let token = app.token(&mapped).await;
    let reply = app.get(&mapped, "/v1/whoami", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["organization"]["id"], "acme");

    // A certificate whose registration was withdrawn stays refused, even
    // though its subject would map it.
    let third = app
        .pki
        .ca
        .issue_client("Acme Mapped", "acme-2", 30)
        .unwrap();
    {
        let mut conn = app.db.get().unwrap();
        let acme = tracewire::domain::OrganizationId::parse("acme").unwrap();
        let registered = tracewire::partners::register_certificate(
            &mut conn,
            &tracewire::audit::Actor::command_line(),
            &acme,
            &third.cert_pem,
            chrono::TimeDelta::zero(),
        )
        .unwrap();
        tracewire::partners::revoke_certificate(
            &mut conn,
            &tracewire::audit::Actor::command_line(),
            &registered.fingerprint,
        )
        .unwrap();
    }
    let withdrawn = crate::helpers::TestOrg {
        certificate: third,
        ..org.clone()
    };
    let (status, body) = app
        .request_token(&withdrawn, &withdrawn.client_id, None)
        .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    app.get(&withdrawn, "/v1/whoami", Some(&token))
        .await
        .assert_problem(403, "certificate-not-registered");
}

crate::on_both_backends!(
    no_client_certificate_ends_the_handshake,
    certificate_from_another_ca_ends_the_handshake,
    revoked_certificate_ends_the_handshake,
    unregistered_certificate_is_refused_by_the_api,
    certificates_under_the_hub_ca_map_by_subject,
);

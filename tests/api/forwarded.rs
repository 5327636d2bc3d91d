//! A TLS-terminating proxy forwards the partner's verified client
//! certificate in a header; it is believed only from `api.trusted_proxies`,
//! and checked again against the CA bundle.
use crate::helpers::{read_json, Reply, TestApp, TestBackend, TestOrg};
use tracewire::domain::OrganizationType;

const HEADER: &str = "X-Client-Certificate";

/// A request over the proxy's own mutual-TLS connection, carrying `forwarded`.
async fn via_proxy(
    app: &TestApp,
    proxy: &tracewire::pki::IssuedCertificate,
    forwarded: Option<&str>,
    path: &str,
    token: Option<&str>,
) -> Reply {
    let mut request = app.client(Some(proxy)).get(app.url(path));
    if let Some(value) = forwarded {
        request = request.insert_header((HEADER, value));
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Reply::from(read_json(request.send().await).await.unwrap())
}

/// The token endpoint through the proxy: the token is bound to the forwarded certificate.
async fn token_via_proxy(
    app: &TestApp,
    proxy: &tracewire::pki::IssuedCertificate,
    forwarded: &str,
    org: &TestOrg,
) -> Reply {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", org.client_id.as_str()),
    ];
    let request = app
        .client(Some(proxy))
        .post(app.url("/v1/oauth/token"))
        .insert_header((HEADER, forwarded));
    Reply::from(read_json(request.send_form(&form).await).await.unwrap())
}

fn escaped(pem: &str) -> String {
    percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn forwarded_certificates_are_believed_only_from_trusted_proxies(backend: TestBackend) {
    let app = TestApp::spawn_with(backend, |settings, _| {
        settings.api.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let proxy = app
        .pki
        .ca
        .issue_client("Edge proxy", "edge-proxy", 30)
        .unwrap();

    // nginx style (URL-encoded PEM): the token is issued for Acme and bound to its certificate.
    let forwarded = escaped(&acme.certificate.cert_pem);
    let issued = token_via_proxy(&app, &proxy, &forwarded, &acme).await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let token = issued.body["access_token"].as_str().unwrap().to_owned();
    let me = via_proxy(&app, &proxy, Some(&forwarded), "/v1/whoami", Some(&token)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["organization"]["id"], "acme");
    // The same token works on Acme's own direct connection too (same certificate).
    assert_eq!(app.get(&acme, "/v1/whoami", Some(&token)).await.status, 200);

    // HAProxy style (base64 DER).
    let der = tracewire::auth::PeerCertificate::from_pem(&acme.certificate.cert_pem)
        .unwrap()
        .leaf()
        .to_vec();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let me = via_proxy(&app, &proxy, Some(&b64), "/v1/whoami", Some(&token)).await;
    assert_eq!(me.status, 200, "{}", me.body);

    // Without the header, the proxy is only itself: not registered.
    via_proxy(&app, &proxy, None, "/v1/whoami", Some(&token))
        .await
        .assert_problem(403, "certificate-not-registered");

    // A certificate the CA bundle would refuse is refused when forwarded too.
    let other_dir = tempfile::tempdir().unwrap();
    let stranger_ca = crate::helpers::TestPki::create(other_dir.path());
    let stranger = stranger_ca.ca.issue_client("acme inc", "acme", 30).unwrap();
    via_proxy(
        &app,
        &proxy,
        Some(&escaped(&stranger.cert_pem)),
        "/v1/whoami",
        Some(&token),
    )
    .await
    .assert_problem(401, "forwarded-certificate-invalid");
    via_proxy(
        &app,
        &proxy,
        Some("not a certificate"),
        "/v1/whoami",
        Some(&token),
    )
    .await
    .assert_problem(401, "forwarded-certificate-invalid");
}

/// From an address that is not a trusted proxy the header is ignored: a
/// partner cannot claim another's certificate by sending it.
async fn the_header_is_ignored_from_other_addresses(backend: TestBackend) {
    let app = TestApp::spawn_with(backend, |settings, _| {
        settings.api.trusted_proxies = vec!["10.255.255.1".into()];
    })
    .await;
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let ngo = app.add_org("ngo", OrganizationType::Ngo, "indicators:read");
    let ngo_token = app.token(&ngo).await;
    let claimed = escaped(&acme.certificate.cert_pem);
    let me = via_proxy(
        &app,
        &ngo.certificate,
        Some(&claimed),
        "/v1/whoami",
        Some(&ngo_token),
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(
        me.body["organization"]["id"], "ngo",
        "the header was believed"
    );
    let acme_token = app.token(&acme).await;
    via_proxy(
        &app,
        &ngo.certificate,
        Some(&claimed),
        "/v1/whoami",
        Some(&acme_token),
    )
    .await
    .assert_problem(401, "token-binding-mismatch");
}

crate::on_both_backends!(
    forwarded_certificates_are_believed_only_from_trusted_proxies,
    the_header_is_ignored_from_other_addresses,
);

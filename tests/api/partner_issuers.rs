//! Tokens from a partner's own issuer, trusted through its JWKS.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use tracewire::auth::keys::{generate_key, ActiveKey};
use tracewire::auth::tokens::{sign, sign_typed, Claims, Confirmation};
use tracewire::auth::PeerCertificate;
use tracewire::config::TrustedIssuerSettings;
use tracewire::domain::OrganizationType;

const PARTNER_ISSUER: &str = "https://idp.partner.example";

fn partner_claims(org: &TestOrg, bound: bool) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        iss: PARTNER_ISSUER.into(),
        sub: "screening-service".into(),
        aud: json!(["tracewire", "something-else"]),
        exp: now + 300,
        nbf: None,
        iat: Some(now),
        jti: None,
        scope: Some("indicators:read indicators:write admin profile".into()),
        client_id: None,
        org: None,
        cnf: bound.then(|| Confirmation {
            x5t_s256: Some(
                PeerCertificate::from_pem(&org.certificate.cert_pem)
                    .unwrap()
                    .thumbprint,
            ),
        }),
    }
}

async fn partner_tokens_are_accepted_within_their_limits(backend: TestBackend) {
    let key = generate_key("ES256").unwrap();
    let jwks = format!("{{\"keys\":[{}]}}", key.public_jwk);
    let app = TestApp::spawn_with(backend, |settings, pki| {
        let path = pki.dir.join("partner-jwks.json");
        std::fs::write(&path, &jwks).unwrap();
        settings.auth.trusted_issuers.push(TrustedIssuerSettings {
            issuer: PARTNER_ISSUER.into(),
            organization: "partner".into(),
            jwks_file: Some(path),
            jwks_url: None,
            allowed_scopes: vec!["indicators:read".into()],
            accept_jwt_typ: false,
            jwks_ca: None,
            jwks_refresh_secs: 30,
        });
    })
    .await;
    let partner = app.add_org("partner", OrganizationType::Exchange, "indicators:read");
    let other = app.add_org("other", OrganizationType::Ngo, "indicators:read");
    let signing = ActiveKey {
        kid: key.kid.clone(),
        algorithm: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(key.private_key_pem.as_bytes()).unwrap(),
    };

    let token = sign(&partner_claims(&partner, true), &signing).unwrap();
    let me = app.get(&partner, "/v1/whoami", Some(&token)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["issuer"], PARTNER_ISSUER);
    assert_eq!(
        me.body["client_id"],
        format!("{PARTNER_ISSUER}#screening-service")
    );
    // Only what the issuer is allowed to grant: never admin, not write here.
    assert_eq!(me.body["scopes"], json!(["indicators:read"]));

    let unbound = sign(&partner_claims(&partner, false), &signing).unwrap();
    app.get(&partner, "/v1/whoami", Some(&unbound))
        .await
        .assert_problem(401, "token-binding-mismatch");

    // The partner's issuer cannot speak for another organization's connection.
    let for_other = sign(&partner_claims(&other, true), &signing).unwrap();
    app.get(&other, "/v1/whoami", Some(&for_other))
        .await
        .assert_problem(401, "token-organization-mismatch");

    // A key the partner never published.
    let stranger = generate_key("ES256").unwrap();
    let stranger = ActiveKey {
        kid: stranger.kid.clone(),
        algorithm: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(stranger.private_key_pem.as_bytes()).unwrap(),
    };
    let forged = sign(&partner_claims(&partner, true), &stranger).unwrap();
    app.get(&partner, "/v1/whoami", Some(&forged))
        .await
        .assert_problem(401, "token-key-unknown");
}

/// RFC 9068 §4: only `typ: at+jwt` by default; an issuer configured with
/// `accept_jwt_typ` may also send `JWT` or no `typ`, never anything else.
async fn partner_token_types_follow_the_issuer_setting(backend: TestBackend) {
    const LENIENT_ISSUER: &str = "https://idp.lenient.example";
    let key = generate_key("ES256").unwrap();
    let jwks = format!("{{\"keys\":[{}]}}", key.public_jwk);
    let app = TestApp::spawn_with(backend, |settings, pki| {
        let path = pki.dir.join("partner-jwks.json");
        std::fs::write(&path, &jwks).unwrap();
        for (issuer, organization, lenient) in [
            (PARTNER_ISSUER, "partner", false),
            (LENIENT_ISSUER, "lenient", true),
        ] {
            settings.auth.trusted_issuers.push(TrustedIssuerSettings {
                issuer: issuer.into(),
                organization: organization.into(),
                jwks_file: Some(path.clone()),
                jwks_url: None,
                allowed_scopes: vec!["indicators:read".into()],
                accept_jwt_typ: lenient,
                jwks_ca: None,
                jwks_refresh_secs: 30,
            });
        }
    })
    .await;
    let partner = app.add_org("partner", OrganizationType::Exchange, "indicators:read");
    let lenient = app.add_org("lenient", OrganizationType::Exchange, "indicators:read");
    let signing = ActiveKey {
        kid: key.kid.clone(),
        algorithm: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(key.private_key_pem.as_bytes()).unwrap(),
    };
    let strict_claims = partner_claims(&partner, true);
    let mut lenient_claims = partner_claims(&lenient, true);
    lenient_claims.iss = LENIENT_ISSUER.into();
    for (org, claims, typ, accepted) in [
        (&partner, &strict_claims, Some("at+jwt"), true),
        (&partner, &strict_claims, Some("application/AT+JWT"), true),
        (&partner, &strict_claims, Some("JWT"), false),
        (&partner, &strict_claims, None, false),
        (&lenient, &lenient_claims, Some("at+jwt"), true),
        (&lenient, &lenient_claims, Some("JWT"), true),
        (&lenient, &lenient_claims, None, true),
        (&lenient, &lenient_claims, Some("id+jwt"), false),
        (&lenient, &lenient_claims, Some("secevent+jwt"), false),
    ] {
        let token = sign_typed(claims, &signing, typ).unwrap();
        let reply = app.get(org, "/v1/whoami", Some(&token)).await;
        if accepted {
            assert_eq!(reply.status, 200, "{typ:?}: {}", reply.body);
        } else {
            reply.assert_problem(401, "token-type-invalid");
        }
    }
}

/// A JWKS served over HTTPS by a real server, whose key set the test changes.
struct JwksServer {
    port: u16,
    keys: std::sync::Arc<std::sync::Mutex<String>>,
    handle: actix_web::dev::ServerHandle,
}

impl JwksServer {
    fn start(pki: &crate::helpers::TestPki, keys: String) -> JwksServer {
        use rustls::pki_types::pem::PemObject;
        let chain: Vec<rustls::pki_types::CertificateDer<'static>> =
            rustls::pki_types::CertificateDer::pem_file_iter(pki.dir.join("server.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(pki.dir.join("server-key.pem"))
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let keys = std::sync::Arc::new(std::sync::Mutex::new(keys));
        let served = keys.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = actix_web::HttpServer::new(move || {
            let served = served.clone();
            actix_web::App::new().route(
                "/jwks.json",
                actix_web::web::get().to(move || {
                    let body = served.lock().unwrap().clone();
                    async move {
                        actix_web::HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body)
                    }
                }),
            )
        })
        .workers(1)
        .listen_rustls_0_23(listener, config)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        JwksServer { port, keys, handle }
    }
}

fn signing_key(key: &tracewire::storage::signing_keys::SigningKeyRow) -> ActiveKey {
    ActiveKey {
        kid: key.kid.clone(),
        algorithm: Algorithm::ES256,
        key: EncodingKey::from_ec_pem(key.private_key_pem.as_bytes()).unwrap(),
    }
}

/// A partner issuer's JWKS by URL, from a real HTTPS server: its keys are
/// loaded at start, a rotation is picked up when a token names the new
/// `kid` (and the withdrawn key stops working), and while the issuer is
/// unreachable the keys already loaded keep working and unknown ones are
/// refused quickly with a 401.
async fn partner_jwks_by_url_rotates_and_survives_an_outage(backend: TestBackend) {
    let first = generate_key("ES256").unwrap();
    let second = generate_key("ES256").unwrap();
    let third = generate_key("ES256").unwrap();
    let jwks = |key: &tracewire::storage::signing_keys::SigningKeyRow| {
        format!("{{\"keys\":[{}]}}", key.public_jwk)
    };
    let holder = tempfile::tempdir().unwrap();
    let holder_pki = crate::helpers::TestPki::create(holder.path());
    let server = JwksServer::start(&holder_pki, jwks(&first));
    let url = format!("https://127.0.0.1:{}/jwks.json", server.port);
    let ca = holder_pki.dir.join("ca.pem");
    let app = TestApp::spawn_with(backend, move |settings, _| {
        settings.auth.trusted_issuers.push(TrustedIssuerSettings {
            issuer: PARTNER_ISSUER.into(),
            organization: "partner".into(),
            jwks_file: None,
            jwks_url: Some(url),
            allowed_scopes: vec!["indicators:read".into()],
            accept_jwt_typ: false,
            jwks_ca: Some(ca),
            jwks_refresh_secs: 1,
        });
    })
    .await;
    let partner = app.add_org("partner", OrganizationType::Exchange, "indicators:read");
    let token = |key| sign(&partner_claims(&partner, true), &signing_key(key)).unwrap();

    let me = app.get(&partner, "/v1/whoami", Some(&token(&first))).await;
    assert_eq!(me.status, 200, "keys loaded at start: {}", me.body);

    // The partner rotates: the new key is fetched when first seen, the old one is gone.
    *server.keys.lock().unwrap() = jwks(&second);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1200)).await;
    let me = app.get(&partner, "/v1/whoami", Some(&token(&second))).await;
    assert_eq!(me.status, 200, "rotation picked up: {}", me.body);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1200)).await;
    let old = app.get(&partner, "/v1/whoami", Some(&token(&first))).await;
    assert_eq!(old.status, 401, "{}", old.body);

    // The issuer goes away: loaded keys keep working, unknown ones fail fast.
    server.handle.stop(true).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1200)).await;
    let started = std::time::Instant::now();
    let unknown = app.get(&partner, "/v1/whoami", Some(&token(&third))).await;
    assert_eq!(unknown.status, 401, "{}", unknown.body);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(11),
        "an unreachable issuer answers within the fetch timeout: {:?}",
        started.elapsed()
    );
    let me = app.get(&partner, "/v1/whoami", Some(&token(&second))).await;
    assert_eq!(me.status, 200, "{}", me.body);
}

crate::on_both_backends!(
    partner_tokens_are_accepted_within_their_limits,
    partner_token_types_follow_the_issuer_setting,
    partner_jwks_by_url_rotates_and_survives_an_outage,
);

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

crate::on_both_backends!(
    partner_tokens_are_accepted_within_their_limits,
    partner_token_types_follow_the_issuer_setting,
);

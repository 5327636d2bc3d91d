//! Bearer tokens: issuance, strict validation and the refusals of the brief.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use tracewire::auth::keys::{generate_key, ActiveKey};
use tracewire::auth::tokens::{sign, Claims, Confirmation};
use tracewire::auth::PeerCertificate;
use tracewire::domain::OrganizationType;
use tracewire::storage::signing_keys;

fn thumbprint(org: &TestOrg) -> String {
    PeerCertificate::from_pem(&org.certificate.cert_pem)
        .unwrap()
        .thumbprint
}

/// Claims as the hub issues them for `org`, valid for 15 minutes.
fn valid_claims(org: &TestOrg) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        iss: "tracewire".into(),
        sub: org.client_id.clone(),
        aud: json!("tracewire"),
        exp: now + 900,
        nbf: Some(now),
        iat: Some(now),
        jti: None,
        scope: Some("indicators:read".into()),
        client_id: Some(org.client_id.clone()),
        org: Some(org.id.clone()),
        cnf: Some(Confirmation {
            x5t_s256: Some(thumbprint(org)),
        }),
    }
}

/// The hub's active signing key, read from its database (as an attacker with the key would).
fn hub_key(app: &TestApp) -> ActiveKey {
    let mut conn = app.db.get().unwrap();
    let row = signing_keys::list_usable(&mut conn, tracewire::storage::now())
        .unwrap()
        .into_iter()
        .find(|k| k.retired_at.is_none())
        .unwrap();
    ActiveKey {
        kid: row.kid,
        algorithm: Algorithm::EdDSA,
        key: EncodingKey::from_ed_pem(row.private_key_pem.as_bytes()).unwrap(),
    }
}

async fn setup(backend: TestBackend) -> (TestApp, TestOrg, TestOrg) {
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let north = app.add_org("north", OrganizationType::Exchange, "indicators:read");
    (app, acme, north)
}

async fn issued_token_identifies_the_caller(backend: TestBackend) {
    let (app, acme, _) = setup(backend).await;
    let (status, body) = app.request_token(&acme, &acme.client_id, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "indicators:read indicators:write");
    let token = body["access_token"].as_str().unwrap();

    // The token carries the RFC 8705 binding to this certificate.
    let payload: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["cnf"]["x5t#S256"], thumbprint(&acme));
    assert_eq!(payload["org"], "acme");

    let reply = app.get(&acme, "/v1/whoami", Some(token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["organization"]["id"], "acme");
    assert_eq!(reply.body["organization"]["type"], "forensics");
    assert_eq!(reply.body["client_id"], "acme-client");
    assert_eq!(
        reply.body["scopes"],
        json!(["indicators:read", "indicators:write"])
    );
    assert_eq!(
        reply.body["certificate_fingerprint"],
        PeerCertificate::from_pem(&acme.certificate.cert_pem)
            .unwrap()
            .fingerprint
    );

    // A narrower scope can be requested; a wider one cannot.
    let (status, body) = app
        .request_token(&acme, &acme.client_id, Some("indicators:read"))
        .await;
    assert_eq!(
        (status.as_u16(), body["scope"].as_str()),
        (200, Some("indicators:read"))
    );
    let (status, body) = app
        .request_token(&acme, &acme.client_id, Some("indicators:read admin"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_scope");
}

async fn token_endpoint_refusals(backend: TestBackend) {
    let (app, acme, north) = setup(backend).await;
    // Another organization's client on my certificate.
    let (status, body) = app.request_token(&acme, &north.client_id, None).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    // Unknown client.
    let (status, body) = app.request_token(&acme, "nobody", None).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    // Wrong grant type.
    let response = app
        .client(Some(&acme.certificate))
        .post(app.url("/v1/oauth/token"))
        .send_form(&[
            ("grant_type", "password"),
            ("client_id", acme.client_id.as_str()),
        ])
        .await;
    let (status, _, body) = crate::helpers::read_json(response).await.unwrap();
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("unsupported_grant_type")),
        "{body}"
    );
}

async fn missing_token_is_401_with_challenge(backend: TestBackend) {
    let (app, acme, _) = setup(backend).await;
    let reply = app.get(&acme, "/v1/whoami", None).await;
    reply.assert_problem(401, "token-missing");
    assert_eq!(reply.www_authenticate(), r#"Bearer realm="tracewire""#);
}

async fn expired_token_is_refused(backend: TestBackend) {
    let (app, acme, _) = setup(backend).await;
    let mut claims = valid_claims(&acme);
    claims.exp = chrono::Utc::now().timestamp() - 3600;
    claims.nbf = Some(claims.exp - 900);
    let token = sign(&claims, &hub_key(&app)).unwrap();
    let reply = app.get(&acme, "/v1/whoami", Some(&token)).await;
    reply.assert_problem(401, "token-expired");
    assert!(
        reply
            .www_authenticate()
            .contains(r#"error="invalid_token""#),
        "{}",
        reply.www_authenticate()
    );

    // The same claims, unexpired, are accepted: the refusal was the expiry.
    let token = sign(&valid_claims(&acme), &hub_key(&app)).unwrap();
    assert_eq!(app.get(&acme, "/v1/whoami", Some(&token)).await.status, 200);
}

async fn token_not_yet_valid_or_for_another_audience_is_refused(backend: TestBackend) {
    let (app, acme, _) = setup(backend).await;
    let mut claims = valid_claims(&acme);
    claims.nbf = Some(chrono::Utc::now().timestamp() + 600);
    let reply = app
        .get(
            &acme,
            "/v1/whoami",
            Some(&sign(&claims, &hub_key(&app)).unwrap()),
        )
        .await;
    reply.assert_problem(401, "token-not-yet-valid");

    let mut claims = valid_claims(&acme);
    claims.aud = json!("some-other-service");
    let reply = app
        .get(
            &acme,
            "/v1/whoami",
            Some(&sign(&claims, &hub_key(&app)).unwrap()),
        )
        .await;
    reply.assert_problem(401, "token-audience-invalid");

    let mut claims = valid_claims(&acme);
    claims.iss = "https://evil.example".into();
    let reply = app
        .get(
            &acme,
            "/v1/whoami",
            Some(&sign(&claims, &hub_key(&app)).unwrap()),
        )
        .await;
    reply.assert_problem(401, "token-issuer-untrusted");
}

async fn token_signed_by_unknown_key_is_refused(backend: TestBackend) {
    let (app, acme, _) = setup(backend).await;
    let foreign = generate_key("EdDSA").unwrap();
    let foreign_key = EncodingKey::from_ed_pem(foreign.private_key_pem.as_bytes()).unwrap();

    // A key id the hub never published.
    let unknown = ActiveKey {
        kid: foreign.kid.clone(),
        algorithm: Algorithm::EdDSA,
        key: foreign_key.clone(),
    };
    let reply = app
        .get(
            &acme,
            "/v1/whoami",
            Some(&sign(&valid_claims(&acme), &unknown).unwrap()),
        )
        .await;
    reply.assert_problem(401, "token-key-unknown");

    // The hub's key id, but signed by another key.
    let impostor = ActiveKey {
        kid: hub_key(&app).kid,
        algorithm: Algorithm::EdDSA,
        key: foreign_key,
    };
    let reply = app
        .get(
            &acme,
            "/v1/whoami",
            Some(&sign(&valid_claims(&acme), &impostor).unwrap()),
        )
        .await;
    reply.assert_problem(401, "token-signature-invalid");
}

async fn alg_none_and_hmac_confusion_are_refused(backend: TestBackend) {
    let (app, acme, _) = setup(backend).await;
    let kid = hub_key(&app).kid;
    let claims = serde_json::to_string(&valid_claims(&acme)).unwrap();
    let encode = |v: &str| URL_SAFE_NO_PAD.encode(v);

    let none = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string()),
        encode(&claims)
    );
    let reply = app.get(&acme, "/v1/whoami", Some(&none)).await;
    reply.assert_problem(401, "token-algorithm-not-allowed");

    // HS256 keyed with the hub's *public* key (the classic confusion attack).
    let jwks: serde_json::Value = {
        let mut conn = app.db.get().unwrap();
        let row = signing_keys::list_usable(&mut conn, tracewire::storage::now())
            .unwrap()
            .remove(0);
        serde_json::from_str(&row.public_jwk).unwrap()
    };
    let public = URL_SAFE_NO_PAD.decode(jwks["x"].as_str().unwrap()).unwrap();
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some(kid);
    let hmac = jsonwebtoken::encode(
        &header,
        &valid_claims(&acme),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    let reply = app.get(&acme, "/v1/whoami", Some(&hmac)).await;
    reply.assert_problem(401, "token-algorithm-not-allowed");
}

/// RFC 9068 §4: the hub issues `typ: at+jwt` and accepts nothing else, so
/// an ID token or other JWT signed by the same key is not an access token.
async fn hub_tokens_are_typed_at_jwt(backend: TestBackend) {
    let (app, acme, _) = setup(backend).await;
    let issued = app.token(&acme).await;
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(issued.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt", "{header}");
    let key = hub_key(&app);
    for (typ, accepted) in [
        (Some("at+jwt"), true),
        (Some("application/at+jwt"), true),
        (Some("JWT"), false),
        (None, false),
        (Some("id+jwt"), false),
    ] {
        let token = tracewire::auth::tokens::sign_typed(&valid_claims(&acme), &key, typ).unwrap();
        let reply = app.get(&acme, "/v1/whoami", Some(&token)).await;
        if accepted {
            assert_eq!(reply.status, 200, "{typ:?}: {}", reply.body);
        } else {
            reply.assert_problem(401, "token-type-invalid");
            assert!(reply.www_authenticate().contains("invalid_token"));
        }
    }
}

async fn token_of_another_organization_is_refused(backend: TestBackend) {
    let (app, acme, north) = setup(backend).await;
    let acme_token = app.token(&acme).await;
    // Presented on the exchange's connection: bound to another certificate.
    let reply = app.get(&north, "/v1/whoami", Some(&acme_token)).await;
    reply.assert_problem(401, "token-binding-mismatch");

    // Even a token bound to the exchange's certificate is refused when it names acme.
    let mut claims = valid_claims(&acme);
    claims.cnf = Some(Confirmation {
        x5t_s256: Some(thumbprint(&north)),
    });
    let reply = app
        .get(
            &north,
            "/v1/whoami",
            Some(&sign(&claims, &hub_key(&app)).unwrap()),
        )
        .await;
    reply.assert_problem(401, "token-organization-mismatch");

    // And an unbound token is refused.
    let mut claims = valid_claims(&acme);
    claims.cnf = None;
    let reply = app
        .get(
            &acme,
            "/v1/whoami",
            Some(&sign(&claims, &hub_key(&app)).unwrap()),
        )
        .await;
    reply.assert_problem(401, "token-binding-mismatch");
}

async fn missing_scope_is_403(backend: TestBackend) {
    let (app, _, north) = setup(backend).await;
    let token = app.token(&north).await;
    let reply = app
        .get(&north, "/v1/admin/organizations", Some(&token))
        .await;
    reply.assert_problem(403, "insufficient-scope");
    assert_eq!(
        reply.www_authenticate(),
        r#"Bearer realm="tracewire", error="insufficient_scope", scope="admin""#
    );
}

async fn disabled_client_tokens_stop_working(backend: TestBackend) {
    let (app, acme, _) = setup(backend).await;
    let hub = app.add_org("hub", OrganizationType::Hub, "admin");
    let admin = app.token(&hub).await;
    let token = app.token(&acme).await;
    assert_eq!(app.get(&acme, "/v1/whoami", Some(&token)).await.status, 200);

    let reply = app
        .send_json(
            &hub,
            awc::http::Method::PATCH,
            "/v1/admin/clients/acme-client",
            &admin,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    app.get(&acme, "/v1/whoami", Some(&token))
        .await
        .assert_problem(401, "token-client-disabled");
    let (status, body) = app.request_token(&acme, &acme.client_id, None).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

async fn key_rotation_keeps_old_tokens_valid(backend: TestBackend) {
    // One pooled connection: rotating and reloading keys must not need a second one.
    let app = TestApp::spawn_with(backend, |settings, _| settings.database.pool_size = 1).await;
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let hub = app.add_org("hub", OrganizationType::Hub, "admin");
    let admin = app.token(&hub).await;
    let old_token = app.token(&acme).await;
    let kid_of = |t: &str| {
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };

    let reply = app
        .send_json(
            &hub,
            awc::http::Method::POST,
            "/v1/admin/keys/rotate",
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let new_kid = reply.body["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, kid_of(&old_token));

    let new_token = app.token(&acme).await;
    assert_eq!(kid_of(&new_token), new_kid);
    assert_eq!(
        app.get(&acme, "/v1/whoami", Some(&old_token)).await.status,
        200,
        "old token still valid"
    );
    assert_eq!(
        app.get(&acme, "/v1/whoami", Some(&new_token)).await.status,
        200
    );

    let jwks = app.get(&acme, "/.well-known/jwks.json", None).await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&new_kid.as_str()) && kids.contains(&kid_of(&old_token).as_str()),
        "{kids:?}"
    );
}

crate::on_both_backends!(
    issued_token_identifies_the_caller,
    token_endpoint_refusals,
    missing_token_is_401_with_challenge,
    expired_token_is_refused,
    token_not_yet_valid_or_for_another_audience_is_refused,
    token_signed_by_unknown_key_is_refused,
    alg_none_and_hmac_confusion_are_refused,
    hub_tokens_are_typed_at_jwt,
    token_of_another_organization_is_refused,
    missing_scope_is_403,
    disabled_client_tokens_stop_working,
    key_rotation_keeps_old_tokens_valid,
);

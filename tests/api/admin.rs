//! Partner administration through `/v1/admin`.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use awc::http::Method;
use serde_json::json;
use tracewire::domain::OrganizationType;

async fn setup(backend: TestBackend) -> (TestApp, TestOrg, String) {
    let app = TestApp::spawn(backend).await;
    let hub = app.add_org("hub", OrganizationType::Hub, "admin indicators:read");
    let token = app.token(&hub).await;
    (app, hub, token)
}

async fn onboarding_a_partner_end_to_end(backend: TestBackend) {
    let (app, hub, admin) = setup(backend).await;
    let reply = app
        .send_json(
            &hub,
            Method::POST,
            "/v1/admin/organizations",
            &admin,
            json!({"id": "new-ngo", "name": "New NGO", "type": "ngo"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["type"], "ngo");

    let certificate = app.pki.ca.issue_client("New NGO", "new-ngo", 30).unwrap();
    let reply = app
        .send_json(
            &hub,
            Method::POST,
            "/v1/admin/organizations/new-ngo/certificates",
            &admin,
            json!({"certificate_pem": certificate.cert_pem}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["serial"], certificate.serial);

    let reply = app
        .send_json(&hub, Method::POST, "/v1/admin/organizations/new-ngo/clients", &admin,
            json!({"id": "new-ngo-analyst", "name": "Analyst", "scopes": ["indicators:read", "sightings:write"]}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);

    // The new partner can now authenticate.
    let partner = TestOrg {
        id: "new-ngo".into(),
        certificate,
        client_id: "new-ngo-analyst".into(),
    };
    let token = app.token(&partner).await;
    let me = app.get(&partner, "/v1/whoami", Some(&token)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["organization"]["name"], "New NGO");
    assert_eq!(
        me.body["scopes"],
        json!(["indicators:read", "sightings:write"])
    );

    // Listings show it.
    let orgs = app.get(&hub, "/v1/admin/organizations", Some(&admin)).await;
    let ids: Vec<&str> = orgs
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["hub", "new-ngo"]);
    let clients = app
        .get(
            &hub,
            "/v1/admin/organizations/new-ngo/clients",
            Some(&admin),
        )
        .await;
    assert_eq!(clients.body[0]["id"], "new-ngo-analyst");

    // Withdrawing the certificate registration locks the partner out.
    let fingerprint = tracewire::auth::PeerCertificate::from_pem(&partner.certificate.cert_pem)
        .unwrap()
        .fingerprint;
    let reply = app
        .send_json(
            &hub,
            Method::POST,
            &format!("/v1/admin/certificates/{fingerprint}/revoke"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body["revoked_at"].is_string());
    app.get(&partner, "/v1/whoami", Some(&token))
        .await
        .assert_problem(403, "certificate-not-registered");
}

async fn disabling_an_organization_locks_it_out(backend: TestBackend) {
    let (app, hub, admin) = setup(backend).await;
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let token = app.token(&acme).await;
    let reply = app
        .send_json(
            &hub,
            Method::PATCH,
            "/v1/admin/organizations/acme",
            &admin,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.body["disabled"].as_bool()),
        (200, Some(true)),
        "{}",
        reply.body
    );
    app.get(&acme, "/v1/whoami", Some(&token))
        .await
        .assert_problem(403, "certificate-not-registered");
    let reply = app
        .send_json(
            &hub,
            Method::PATCH,
            "/v1/admin/organizations/acme",
            &admin,
            json!({"disabled": false}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(app.get(&acme, "/v1/whoami", Some(&token)).await.status, 200);
}

async fn communities_group_organizations(backend: TestBackend) {
    let (app, hub, admin) = setup(backend).await;
    app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    app.add_org("ngo", OrganizationType::Ngo, "indicators:read");
    let reply = app
        .send_json(
            &hub,
            Method::POST,
            "/v1/admin/communities",
            &admin,
            json!({"id": "anti-trafficking", "name": "Anti-trafficking"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    for org in ["ngo", "acme", "acme"] {
        let reply = app
            .send_json(
                &hub,
                Method::PUT,
                &format!("/v1/admin/communities/anti-trafficking/members/{org}"),
                &admin,
                json!(null),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let community = app
        .get(&hub, "/v1/admin/communities/anti-trafficking", Some(&admin))
        .await;
    assert_eq!(community.body["members"], json!(["acme", "ngo"]));

    let reply = app
        .send_json(
            &hub,
            Method::DELETE,
            "/v1/admin/communities/anti-trafficking/members/acme",
            &admin,
            json!(null),
        )
        .await;
    assert_eq!(reply.body["members"], json!(["ngo"]));
    let reply = app
        .send_json(
            &hub,
            Method::PUT,
            "/v1/admin/communities/anti-trafficking/members/ghost",
            &admin,
            json!(null),
        )
        .await;
    reply.assert_problem(404, "not-found");
}

async fn admin_input_is_validated(backend: TestBackend) {
    let (app, hub, admin) = setup(backend).await;
    app.add_org("acme", OrganizationType::Forensics, "indicators:read");

    let reply = app
        .send_json(
            &hub,
            Method::POST,
            "/v1/admin/organizations",
            &admin,
            json!({"id": "Bad Id", "name": " ", "type": "bank"}),
        )
        .await;
    reply.assert_problem(422, "validation-failed");
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["id", "name", "type"]);

    let reply = app
        .send_json(
            &hub,
            Method::POST,
            "/v1/admin/organizations",
            &admin,
            json!({"id": "acme", "name": "Again", "type": "ngo"}),
        )
        .await;
    reply.assert_problem(409, "conflict");
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(
        !detail.contains("UNIQUE") && !detail.contains("duplicate key"),
        "database text leaked: {detail}"
    );

    // Only hub organizations' clients may hold admin.
    let reply = app
        .send_json(
            &hub,
            Method::POST,
            "/v1/admin/organizations/acme/clients",
            &admin,
            json!({"id": "acme-root", "name": "Root", "scopes": ["admin"]}),
        )
        .await;
    reply.assert_problem(422, "validation-failed");
    assert_eq!(reply.body["errors"][0]["field"], "scopes");

    let reply = app
        .send_json(
            &hub,
            Method::POST,
            "/v1/admin/organizations/acme/certificates",
            &admin,
            json!({"certificate_pem": "not a certificate"}),
        )
        .await;
    reply.assert_problem(422, "validation-failed");
    assert_eq!(reply.body["errors"][0]["field"], "certificate_pem");

    app.get(&hub, "/v1/admin/organizations/ghost", Some(&admin))
        .await
        .assert_problem(404, "not-found");
}

crate::on_both_backends!(
    onboarding_a_partner_end_to_end,
    disabling_an_organization_locks_it_out,
    communities_group_organizations,
    admin_input_is_validated,
);

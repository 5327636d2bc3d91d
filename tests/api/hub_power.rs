//! The hub's own power is never silent: every admin action is in the audit
//! chain, partners see what is registered under them and who is in their
//! communities, credentials added to an onboarded partner wait for its
//! confirmation (or the notice period), the hub cannot join a community,
//! and it cannot lock itself out.
use crate::helpers::{Reply, TestApp, TestBackend, TestOrg};
use crate::records::{world, World};
use awc::http::Method;
use serde_json::{json, Value};
use tracewire::domain::OrganizationType;

async fn get(app: &TestApp, org: &TestOrg, path: &str) -> Reply {
    let token = app.token(org).await;
    app.get(org, path, Some(&token)).await
}

async fn admin(w: &World, method: Method, path: &str, body: Value) -> Reply {
    let token = w.app.token(&w.hub).await;
    w.app.send_json(&w.hub, method, path, &token, body).await
}

fn actions(history: &Reply) -> Vec<String> {
    assert_eq!(history.status, 200, "{}", history.body);
    history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

/// The hub adds a certificate and a client to Acme: both stay pending, in
/// Acme's view and its history, until Acme confirms them over its existing
/// credentials; every step is in the audit chain.
async fn credentials_for_an_onboarded_partner_wait_for_it(backend: TestBackend) {
    let w = world(backend).await;
    let before = get(&w.app, &w.acme, "/v1/organization").await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(before.body["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(
        before.body["clients"][0]["scopes"],
        json!(["indicators:read", "indicators:write"])
    );

    // The hub issues itself a certificate in Acme's name and registers it.
    let forged = w
        .app
        .pki
        .ca
        .issue_client("acme inc", "acme-forged", 30)
        .unwrap();
    let reply = admin(
        &w,
        Method::POST,
        "/v1/admin/organizations/acme/certificates",
        json!({"certificate_pem": forged.cert_pem}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let fingerprint = reply.body["fingerprint"].as_str().unwrap().to_owned();
    assert!(reply.body["pending_until"].is_string(), "{}", reply.body);
    let reply = admin(
        &w,
        Method::POST,
        "/v1/admin/organizations/acme/clients",
        json!({"id": "acme-by-hub", "name": "added by the hub", "scopes": ["indicators:read"]}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert!(reply.body["pending_until"].is_string(), "{}", reply.body);

    // Neither works yet: the hub cannot read as Acme.
    let as_acme = TestOrg {
        certificate: forged.clone(),
        ..w.acme.clone()
    };
    let (status, body) = w
        .app
        .request_token(&as_acme, &as_acme.client_id, None)
        .await;
    assert_eq!(
        status.as_u16(),
        401,
        "the forged certificate works at once: {body}"
    );
    let (status, body) = w.app.request_token(&w.acme, "acme-by-hub", None).await;
    assert_eq!(
        status.as_u16(),
        401,
        "the hub's client works at once: {body}"
    );

    // Acme sees both, pending, and the history of how they came.
    let now = get(&w.app, &w.acme, "/v1/organization").await;
    let certificates = now.body["certificates"].as_array().unwrap();
    let pending: Vec<&Value> = certificates
        .iter()
        .filter(|c| c["pending_until"].is_string())
        .collect();
    assert_eq!(pending.len(), 1, "{}", now.body);
    assert_eq!(pending[0]["fingerprint"], json!(fingerprint));
    assert!(now.body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "acme-by-hub" && c["pending_until"].is_string()));
    let history = get(&w.app, &w.acme, "/v1/organization/history").await;
    let seen = actions(&history);
    assert!(
        seen.contains(&"admin.certificate.register".to_owned()),
        "{seen:?}"
    );
    assert!(seen.contains(&"admin.client.create".to_owned()), "{seen:?}");
    assert!(history.body.to_string().contains(&fingerprint));
    assert!(history
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor_organization"].is_string() && e["hash"].as_str().unwrap().len() == 64));
    // Others do not see Acme's history.
    let ngo = get(&w.app, &w.ngo, "/v1/organization/history").await;
    assert!(!ngo.body.to_string().contains(&fingerprint), "{}", ngo.body);

    // Acme confirms over its existing credentials: now they work.
    let token = w.app.token(&w.acme).await;
    let confirmed = w
        .app
        .send_json(
            &w.acme,
            Method::POST,
            &format!("/v1/organization/certificates/{fingerprint}/confirm"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert!(confirmed.body.get("pending_until").is_none());
    let confirmed = w
        .app
        .send_json(
            &w.acme,
            Method::POST,
            "/v1/organization/clients/acme-by-hub/confirm",
            &token,
            json!({}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let (status, body) = w
        .app
        .request_token(&as_acme, &as_acme.client_id, None)
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    let (status, body) = w.app.request_token(&w.acme, "acme-by-hub", None).await;
    assert_eq!(status.as_u16(), 200, "{body}");
    // Confirming twice, or another organization's credential, finds nothing.
    let again = w
        .app
        .send_json(
            &w.acme,
            Method::POST,
            &format!("/v1/organization/certificates/{fingerprint}/confirm"),
            &token,
            json!({}),
        )
        .await;
    again.assert_problem(404, "not-found");
    let ngo_token = w.app.token(&w.ngo).await;
    let foreign = w
        .app
        .send_json(
            &w.ngo,
            Method::POST,
            "/v1/organization/clients/acme-by-hub/confirm",
            &ngo_token,
            json!({}),
        )
        .await;
    foreign.assert_problem(404, "not-found");
    let seen = actions(&get(&w.app, &w.acme, "/v1/organization/history").await);
    assert!(
        seen.contains(&"partner.certificate.confirm".to_owned()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"partner.client.confirm".to_owned()),
        "{seen:?}"
    );

    // Every admin action is in the chain, and the chain holds.
    let mut conn = w.app.db.get().unwrap();
    let logged: Vec<String> = {
        use diesel::prelude::*;
        use tracewire::storage::schema::audit_log;
        audit_log::table
            .filter(audit_log::action.like("admin.%"))
            .select(audit_log::action)
            .load(&mut *conn)
            .unwrap()
    };
    for action in [
        "admin.organization.create",
        "admin.certificate.register",
        "admin.client.create",
        "admin.community.create",
        "admin.community.add_member",
    ] {
        assert!(
            logged.iter().any(|a| a == action),
            "{action} not audited: {logged:?}"
        );
    }
    assert!(matches!(
        tracewire::audit::verify(&mut conn).unwrap(),
        tracewire::audit::Verification::Intact { .. }
    ));
}

/// With a short notice period, a pending credential takes effect by itself
/// when the period ends (a partner that lost its key is not stuck).
async fn pending_credentials_take_effect_after_the_notice(backend: TestBackend) {
    let app = TestApp::spawn_with(backend, |settings, _| {
        settings.auth.credential_notice_secs = 2;
    })
    .await;
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let hub = app.add_org("hub", OrganizationType::Hub, "admin indicators:read");
    let replacement = app.pki.ca.issue_client("acme inc", "acme-new", 30).unwrap();
    let token = app.token(&hub).await;
    let reply = app
        .send_json(
            &hub,
            Method::POST,
            "/v1/admin/organizations/acme/certificates",
            &token,
            json!({"certificate_pem": replacement.cert_pem}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert!(reply.body["pending_until"].is_string());
    let with_new = TestOrg {
        certificate: replacement,
        ..acme.clone()
    };
    let (status, _) = app
        .request_token(&with_new, &with_new.client_id, None)
        .await;
    assert_eq!(status.as_u16(), 401);
    // Past the notice (and the 5 s identity cache), it works unconfirmed.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(7500)).await;
    let (status, body) = app
        .request_token(&with_new, &with_new.client_id, None)
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
}

/// Members list their community's members (with when each joined); others
/// get a 404; the hub cannot add itself; and the hub cannot disable its
/// last admin client.
async fn communities_are_visible_and_the_hub_cannot_join_or_lock_itself_out(backend: TestBackend) {
    let w = world(backend).await;
    let members = get(&w.app, &w.member, "/v1/communities/at/members").await;
    assert_eq!(members.status, 200, "{}", members.body);
    assert_eq!(members.body[0]["organization"], "member");
    assert!(members.body[0]["added_at"].as_str().unwrap().ends_with('Z'));
    get(&w.app, &w.exchange, "/v1/communities/at/members")
        .await
        .assert_problem(404, "not-found");
    get(&w.app, &w.member, "/v1/communities/nowhere/members")
        .await
        .assert_problem(404, "not-found");

    // The hub adds the exchange: the member sees it in the list and in its history.
    let reply = admin(
        &w,
        Method::PUT,
        "/v1/admin/communities/at/members/exchange",
        json!({}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let members = get(&w.app, &w.member, "/v1/communities/at/members").await;
    assert_eq!(members.body.as_array().unwrap().len(), 2);
    let history = get(&w.app, &w.member, "/v1/organization/history").await;
    assert!(actions(&history).contains(&"admin.community.add_member".to_owned()));
    assert!(
        history.body.to_string().contains("\"exchange\""),
        "{}",
        history.body
    );

    // The hub may not join.
    let reply = admin(
        &w,
        Method::PUT,
        "/v1/admin/communities/at/members/hub",
        json!({}),
    )
    .await;
    reply.assert_problem(409, "conflict");
    let members = get(&w.app, &w.member, "/v1/communities/at/members").await;
    assert!(!members.body.to_string().contains("\"hub\""));

    // The hub's only admin client cannot be disabled, nor its organization.
    let reply = admin(
        &w,
        Method::PATCH,
        "/v1/admin/clients/hub-client",
        json!({"disabled": true}),
    )
    .await;
    reply.assert_problem(409, "conflict");
    let reply = admin(
        &w,
        Method::PATCH,
        "/v1/admin/organizations/hub",
        json!({"disabled": true}),
    )
    .await;
    reply.assert_problem(409, "conflict");
    let whoami = get(&w.app, &w.hub, "/v1/whoami").await;
    assert_eq!(whoami.status, 200);
    // With a second admin client it can.
    let reply = admin(
        &w,
        Method::POST,
        "/v1/admin/organizations/hub/clients",
        json!({"id": "hub-second", "name": "second admin", "scopes": ["admin"]}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = admin(
        &w,
        Method::PATCH,
        "/v1/admin/clients/hub-client",
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// `tracewire partner` shows a partner the same, from the command line.
async fn the_partner_cli_shows_what_the_hub_did(backend: TestBackend) {
    let w = world(backend).await;
    let forged = w
        .app
        .pki
        .ca
        .issue_client("acme inc", "acme-forged", 30)
        .unwrap();
    let reply = admin(
        &w,
        Method::POST,
        "/v1/admin/organizations/acme/certificates",
        json!({"certificate_pem": forged.cert_pem}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let fingerprint = reply.body["fingerprint"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("acme.pem"), dir.path().join("acme-key.pem"));
    std::fs::write(&cert, &w.acme.certificate.cert_pem).unwrap();
    std::fs::write(&key, &w.acme.certificate.key_pem).unwrap();
    let url = w.app.url("");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracewire"))
            .arg("partner")
            .args(["--url", url.trim_end_matches('/')])
            .arg("--ca")
            .arg(w.app.pki.dir.join("ca.pem"))
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .args(["--client-id", &w.acme.client_id])
            .args(args)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, shown, err) = run(&["show"]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert!(shown["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["fingerprint"] == json!(fingerprint) && c["pending_until"].is_string()));
    let (ok, history, err) = run(&["history"]);
    assert!(ok, "{err}");
    assert!(history.contains("admin.certificate.register") && history.contains(&fingerprint));
    let (ok, _, err) = run(&["confirm-cert", &fingerprint]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["confirm-cert", &fingerprint]);
    assert!(!ok && err.contains("404"), "{err}");
}

crate::on_both_backends!(
    the_partner_cli_shows_what_the_hub_did,
    credentials_for_an_onboarded_partner_wait_for_it,
    pending_credentials_take_effect_after_the_notice,
    communities_are_visible_and_the_hub_cannot_join_or_lock_itself_out,
);

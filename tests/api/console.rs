//! The analyst console's sessions, over real HTTPS with real client
//! certificates: sign-in, the session cookie's attributes, its binding to
//! the certificate it was made with, CSRF refusals that write nothing,
//! scopes, expiry, revocation and sign-out.
use crate::console_browser::Browser;
use crate::helpers::{TestApp, TestBackend, TestOrg};
use diesel::prelude::*;
use tracewire::domain::OrganizationType;

/// Acme (forensics; reads, writes, reports sightings), Safe Harbor (an
/// NGO; reads and reports sightings) and Northwind (an exchange; reads).
pub struct Orgs {
    pub app: TestApp,
    pub acme: TestOrg,
    pub safe_harbor: TestOrg,
    pub northwind: TestOrg,
}

pub async fn orgs(backend: TestBackend) -> Orgs {
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write sightings:write",
    );
    let safe_harbor = app.add_org(
        "safeharbor",
        OrganizationType::Ngo,
        "indicators:read sightings:write",
    );
    let northwind = app.add_org("northwind", OrganizationType::Exchange, "indicators:read");
    Orgs {
        app,
        acme,
        safe_harbor,
        northwind,
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.db.get().unwrap();
    diesel::sql_query(sql)
        .get_result::<Count>(&mut *conn)
        .unwrap()
        .n
}

fn sessions(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) AS n FROM console_sessions")
}

fn records(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) AS n FROM records")
}

async fn sign_in_lists_the_organizations_clients_and_sets_a_strict_cookie(backend: TestBackend) {
    let o = orgs(backend).await;
    let mut browser = Browser::new(&o.app, &o.acme.certificate);
    let page = browser.get("/console/signin").await;
    let body = page.html(200);
    assert!(body.contains("id=\"signin-form\""), "{body}");
    assert!(body.contains("value=\"acme-client\""), "{body}");
    assert!(
        !body.contains("safeharbor-client") && !body.contains("northwind-client"),
        "only the certificate's organization's clients are offered"
    );

    let before = count(
        &o.app,
        "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'console.signin'",
    );
    let signed_in = browser.sign_in(&o.acme).await;
    assert_eq!(
        signed_in.header("location").as_deref(),
        Some("/console/lookup")
    );
    let cookie = signed_in.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    let id = browser.cookie.clone().unwrap();
    assert!(id.len() >= 43, "256 random bits, base64url: {id}");
    // Signing in again replaces the session: still one, with a new id.
    browser.sign_in(&o.acme).await;
    assert_ne!(browser.cookie.as_deref(), Some(id.as_str()));
    let id = browser.cookie.clone().unwrap();
    // Stored only as a hash.
    assert_eq!(sessions(&o.app), 1);
    assert_eq!(
        count(
            &o.app,
            &format!("SELECT COUNT(*) AS n FROM console_sessions WHERE id_hash = '{id}'")
        ),
        0
    );
    assert_eq!(
        count(
            &o.app,
            "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'console.signin'"
        ),
        before + 2,
        "sign-in is audited"
    );

    let lookup = browser.get("/console/lookup").await;
    let body = lookup.html(200);
    assert!(
        body.contains("id=\"lookup-form\"") && body.contains("id=\"signout\""),
        "{body}"
    );
    assert!(
        body.contains("acme-client"),
        "the page says who is signed in"
    );
    assert_eq!(lookup.header("cache-control").as_deref(), Some("no-store"));

    // Without a cookie: to the sign-in page.
    let anonymous = Browser::new(&o.app, &o.acme.certificate);
    let page = anonymous.get("/console/lookup").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location").as_deref(), Some("/console/signin"));
}

async fn sign_in_refuses_another_organizations_client(backend: TestBackend) {
    let o = orgs(backend).await;
    let mut browser = Browser::new(&o.app, &o.northwind.certificate);
    let page = browser.sign_in_as(&o.acme.client_id).await;
    page.html(403);
    assert!(browser.cookie.is_none());
    assert_eq!(sessions(&o.app), 0);
    // A sign-in form sent from another site is refused too.
    let page = browser
        .post_from(
            "/console/signin",
            &[("client_id", o.northwind.client_id.as_str())],
            Some("https://evil.example"),
        )
        .await;
    page.html(403);
    assert_eq!(sessions(&o.app), 0);
}

async fn a_session_cookie_replayed_over_another_certificate_is_refused(backend: TestBackend) {
    let o = orgs(backend).await;
    let mut acme = Browser::new(&o.app, &o.acme.certificate);
    acme.sign_in(&o.acme).await;
    let stolen = acme.cookie.clone();

    let mut thief = Browser::new(&o.app, &o.northwind.certificate);
    thief.cookie = stolen.clone();
    let page = thief.get("/console/lookup").await;
    let body = page.html(403);
    assert!(body.contains("another certificate"), "{body}");
    assert!(
        !body.contains("acme-client"),
        "nothing of the session shows"
    );
    // The session is ended: not usable any more, even by its owner.
    assert_eq!(sessions(&o.app), 0);
    assert_eq!(acme.get("/console/lookup").await.status, 303);

    // Another certificate of the same organization is another binding too.
    acme.sign_in(&o.acme).await;
    let second = o
        .app
        .pki
        .ca
        .issue_client("acme second", "acme", 30)
        .unwrap();
    {
        let mut conn = o.app.db.get().unwrap();
        tracewire::partners::register_certificate(
            &mut conn,
            &tracewire::audit::Actor::command_line(),
            &tracewire::domain::OrganizationId::parse("acme").unwrap(),
            &second.cert_pem,
            chrono::TimeDelta::zero(),
        )
        .unwrap();
    }
    let mut laptop = Browser::new(&o.app, &second);
    laptop.cookie = acme.cookie.clone();
    laptop.get("/console/lookup").await.html(403);
    assert_eq!(acme.get("/console/lookup").await.status, 303);
}

async fn posts_without_the_sessions_token_or_from_another_origin_write_nothing(
    backend: TestBackend,
) {
    let o = orgs(backend).await;
    let mut browser = Browser::new(&o.app, &o.safe_harbor.certificate);
    browser.sign_in(&o.safe_harbor).await;
    let token = browser.csrf().await;
    let address = "0x00000000000000000000000000000000c0ffee01";
    let form = |csrf: &'static str| {
        vec![
            ("csrf", csrf),
            ("chain", "eth"),
            ("address", address),
            ("seen_at", "2026-11-30T10:00"),
            ("count", "2"),
            ("context", "ad"),
            ("tlp", "amber"),
            ("organizations", "acme"),
        ]
    };
    let stored = records(&o.app);
    let missing: Vec<(&str, &str)> = form("").into_iter().filter(|(k, _)| *k != "csrf").collect();
    let refusals = [
        browser.post("/console/sightings", &missing).await,
        browser.post("/console/sightings", &form("0000")).await,
    ];
    let mut with_token = form("");
    with_token[0].1 = &token;
    let foreign = browser
        .post_from(
            "/console/sightings",
            &with_token,
            Some("https://evil.example"),
        )
        .await;
    let no_origin = browser
        .post_from("/console/sightings", &with_token, None)
        .await;
    for page in refusals.iter().chain([&foreign, &no_origin]) {
        let body = page.html(403);
        assert!(body.contains("Nothing was changed"), "{body}");
    }
    assert_eq!(records(&o.app), stored, "no refused form wrote anything");
    // Sign-out needs the token too.
    browser
        .post("/console/signout", &[("csrf", "nope")])
        .await
        .html(403);
    assert_eq!(sessions(&o.app), 1);

    // The same form with the token, from the console: stored.
    let page = browser.post("/console/sightings", &with_token).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(records(&o.app), stored + 1);
}

async fn scopes_apply_as_on_the_api(backend: TestBackend) {
    let o = orgs(backend).await;
    let mut browser = Browser::new(&o.app, &o.northwind.certificate);
    browser.sign_in(&o.northwind).await;
    let lookup = browser.get("/console/lookup").await;
    let body = lookup.html(200);
    assert!(
        !body.contains("/console/sightings/new"),
        "the form is not offered"
    );
    assert!(!body.contains("/console/submit"), "the form is not offered");
    let token = lookup.csrf();
    browser.get("/console/sightings/new").await.html(403);
    let stored = records(&o.app);
    let page = browser
        .post(
            "/console/sightings",
            &[
                ("csrf", token.as_str()),
                ("chain", "eth"),
                ("address", "0x00000000000000000000000000000000c0ffee02"),
                ("seen_at", "2026-11-30T10:00"),
                ("count", "1"),
                ("context", "deposit"),
                ("tlp", "green"),
                ("all_partners", "on"),
            ],
        )
        .await;
    let body = page.html(403);
    assert!(body.contains("sightings:write"), "{body}");
    assert_eq!(records(&o.app), stored);

    // Safe Harbor may: the form is offered and works.
    let mut ngo = Browser::new(&o.app, &o.safe_harbor.certificate);
    ngo.sign_in(&o.safe_harbor).await;
    let body = ngo.get("/console/lookup").await.html(200).to_owned();
    assert!(body.contains("/console/sightings/new"), "{body}");
    ngo.get("/console/sightings/new").await.html(200);
}

async fn sessions_expire_and_end_with_their_client_or_certificate(backend: TestBackend) {
    let o = orgs(backend).await;
    let mut browser = Browser::new(&o.app, &o.acme.certificate);
    let set_back = |column: &str, minutes: i64| {
        let at = (chrono::Utc::now() - chrono::TimeDelta::minutes(minutes))
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S");
        let mut conn = o.app.db.get().unwrap();
        diesel::sql_query(format!("UPDATE console_sessions SET {column} = '{at}'"))
            .execute(&mut *conn)
            .unwrap();
    };

    // Idle for 29 minutes: still signed in; 31: over.
    browser.sign_in(&o.acme).await;
    set_back("last_seen_at", 29);
    browser.get("/console/lookup").await.html(200);
    set_back("last_seen_at", 31);
    assert_eq!(browser.get("/console/lookup").await.status, 303);
    assert_eq!(sessions(&o.app), 0, "an expired session is deleted");

    // In use, but signed in 8 hours ago: over.
    browser.sign_in(&o.acme).await;
    set_back("created_at", 8 * 60 + 1);
    assert_eq!(browser.get("/console/lookup").await.status, 303);

    // The API client disabled: over at once.
    browser.sign_in(&o.acme).await;
    browser.get("/console/lookup").await.html(200);
    {
        let mut conn = o.app.db.get().unwrap();
        tracewire::partners::set_client_disabled(
            &mut conn,
            &tracewire::audit::Actor::command_line(),
            &tracewire::domain::ClientId::parse(&o.acme.client_id).unwrap(),
            true,
        )
        .unwrap();
    }
    assert_eq!(browser.get("/console/lookup").await.status, 303);

    // The certificate withdrawn: refused (after the server's 5 s identity cache).
    let mut ngo = Browser::new(&o.app, &o.safe_harbor.certificate);
    ngo.sign_in(&o.safe_harbor).await;
    {
        let mut conn = o.app.db.get().unwrap();
        tracewire::partners::revoke_certificate(
            &mut conn,
            &tracewire::audit::Actor::command_line(),
            &tracewire::auth::PeerCertificate::from_pem(&o.safe_harbor.certificate.cert_pem)
                .unwrap()
                .fingerprint,
        )
        .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    let page = ngo.get("/console/lookup").await;
    page.html(403);
    assert!(!page.body.contains("safeharbor-client"));
}

async fn sign_out_deletes_the_session(backend: TestBackend) {
    let o = orgs(backend).await;
    let mut browser = Browser::new(&o.app, &o.acme.certificate);
    browser.sign_in(&o.acme).await;
    let token = browser.csrf().await;
    let page = browser
        .post("/console/signout", &[("csrf", token.as_str())])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.header("location").as_deref(),
        Some("/console/signin?signed_out=1")
    );
    let cookie = page.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with("tw_console=;"),
        "cookie removed: {cookie}"
    );
    assert_eq!(sessions(&o.app), 0);
    // The old cookie is worth nothing now.
    assert_eq!(browser.get("/console/lookup").await.status, 303);
    // The page sign-out leads to says so.
    let after = browser.get("/console/signin?signed_out=1").await;
    assert_eq!(after.status, 200);
    assert!(after.body.contains("id=\"signed-out\""), "{}", after.body);
    assert_eq!(
        count(
            &o.app,
            "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'console.signout'"
        ),
        1
    );
}

crate::on_both_backends!(
    sign_in_lists_the_organizations_clients_and_sets_a_strict_cookie,
    sign_in_refuses_another_organizations_client,
    a_session_cookie_replayed_over_another_certificate_is_refused,
    posts_without_the_sessions_token_or_from_another_origin_write_nothing,
    scopes_apply_as_on_the_api,
    sessions_expire_and_end_with_their_client_or_certificate,
    sign_out_deletes_the_session,
);

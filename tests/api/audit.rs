//! The audit log records every read and write of records, and its hash
//! chain exposes tampering.
use crate::helpers::{TestApp, TestBackend};
use awc::http::Method;
use diesel::prelude::*;
use serde_json::json;
use tracewire::audit::{verify, Verification};
use tracewire::domain::OrganizationType;
use tracewire::storage::schema::audit_log;

fn entries(app: &TestApp) -> Vec<(i64, String, String, i64)> {
    let mut conn = app.db.get().unwrap();
    audit_log::table
        .order(audit_log::seq)
        .select((
            audit_log::seq,
            audit_log::action,
            audit_log::organization,
            audit_log::result_count,
        ))
        .load(&mut *conn)
        .unwrap()
}

fn verify_cli(app: &TestApp) -> (bool, String) {
    let s = &app.settings;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracewire"))
        .args(["audit", "verify"])
        .env("TRACEWIRE_DATABASE__URL", &s.database.url)
        .env("TRACEWIRE_TLS__CERT", &s.tls.cert)
        .env("TRACEWIRE_TLS__KEY", &s.tls.key)
        .env("TRACEWIRE_TLS__CLIENT_CA", &s.tls.client_ca)
        .env_remove("TRACEWIRE_CONFIG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn reads_and_writes_are_audited_in_a_verifiable_chain(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let exchange = app.add_org("exchange", OrganizationType::Exchange, "indicators:read");
    let acme_token = app.token(&acme).await;
    let record = |n: u32, tlp: &str| {
        json!({"kind": "address", "chain": "eth", "address": format!("0x{n:040x}"), "confidence": 50,
            "tlp": tlp, "audience": if tlp == "red" { json!({"organizations": ["acme"]}) } else { json!({}) }, "method": "osint"})
    };
    let created = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &acme_token,
            json!({"items": [record(1, "green"), record(2, "red")]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let green = created.body["items"][0]["id"].as_str().unwrap().to_owned();
    let red = created.body["items"][1]["id"].as_str().unwrap().to_owned();

    let token = app.token(&exchange).await;
    assert_eq!(
        app.get(&exchange, &format!("/v1/records/{green}"), Some(&token))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get(&exchange, &format!("/v1/records/{red}"), Some(&token))
            .await
            .status,
        404
    );
    assert_eq!(
        app.get(&exchange, "/v1/records", Some(&token)).await.status,
        200
    );
    let revoked = app
        .send_json(
            &acme,
            Method::POST,
            &format!("/v1/records/{green}/revoke"),
            &acme_token,
            json!(null),
        )
        .await;
    assert_eq!(revoked.status, 200);

    let log = entries(&app);
    // Registering the two organizations is audited first, as the operator's.
    let setup: Vec<&str> = log
        .iter()
        .take_while(|(_, a, _, _)| a.starts_with("admin."))
        .map(|(_, a, o, _)| {
            assert_eq!(o, "operator");
            a.as_str()
        })
        .collect();
    assert_eq!(
        setup,
        [
            "admin.organization.create",
            "admin.certificate.register",
            "admin.client.create"
        ]
        .repeat(2)
    );
    let base = setup.len() as i64;
    let summary: Vec<(&str, &str, i64)> = log
        .iter()
        .skip(setup.len())
        .map(|(_, a, o, n)| (a.as_str(), o.as_str(), *n))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("records.create", "acme", 2),
            ("records.read", "exchange", 1),
            ("records.read", "exchange", 0), // the invisible record: a miss, recorded
            ("records.list", "exchange", 1),
            ("records.revoke", "acme", 1),
        ]
    );
    let mut conn = app.db.get().unwrap();
    assert_eq!(
        verify(&mut conn).unwrap(),
        Verification::Intact { entries: base + 5 }
    );
    let (ok, text) = verify_cli(&app);
    assert!(
        ok && text.contains(&format!("intact: {} entries", base + 5)),
        "{text}"
    );

    // Altering an entry breaks the chain there.
    diesel::update(audit_log::table.find(base + 3))
        .set(audit_log::result_count.eq(1))
        .execute(&mut *conn)
        .unwrap();
    match verify(&mut conn).unwrap() {
        Verification::Broken { seq, reason } if seq == base + 3 => {
            assert!(reason.contains("altered"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let (ok, text) = verify_cli(&app);
    assert!(
        !ok && text.contains(&format!("broken at entry {}", base + 3)),
        "{text}"
    );
    diesel::update(audit_log::table.find(base + 3))
        .set(audit_log::result_count.eq(0))
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(
        verify(&mut conn).unwrap(),
        Verification::Intact { entries: base + 5 }
    );

    // Removing the last entry is noticed too (the head remembers the tip)…
    diesel::delete(audit_log::table.find(base + 5))
        .execute(&mut *conn)
        .unwrap();
    assert!(matches!(
        verify(&mut conn).unwrap(),
        Verification::Broken { seq, .. } if seq == base + 5
    ));
    // …and so is a gap in the middle.
    diesel::delete(audit_log::table.find(base + 2))
        .execute(&mut *conn)
        .unwrap();
    match verify(&mut conn).unwrap() {
        Verification::Broken { seq, reason } if seq == base + 2 => {
            assert!(reason.contains("missing"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

/// Reads running at the same time share audit appends (group commit), yet
/// each read gets exactly one entry, writes interleave, and the chain holds.
async fn concurrent_reads_each_get_one_entry_in_an_intact_chain(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let exchange = app.add_org("exchange", OrganizationType::Exchange, "indicators:read");
    let (acme_token, token) = (app.token(&acme).await, app.token(&exchange).await);
    let item = |n: u32| {
        json!({"kind": "address", "chain": "eth", "address": format!("0x{n:040x}"),
            "confidence": 50, "tlp": "green", "method": "osint"})
    };
    let created = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &acme_token,
            json!({"items": [item(1)]}),
        )
        .await;
    let id = created.body["ids"][0].as_str().unwrap().to_owned();

    const READS: usize = 60;
    const WRITES: u32 = 4;
    let reads = (0..READS).map(|_| {
        let path = format!("/v1/records/{id}");
        let (app, exchange, token) = (&app, &exchange, &token);
        async move { app.get(exchange, &path, Some(token)).await.status }
    });
    let writes = (0..WRITES).map(|n| {
        let (app, acme, token) = (&app, &acme, &acme_token);
        async move {
            app.send_json(
                acme,
                Method::POST,
                "/v1/records",
                token,
                json!({"items": [item(10 + n)]}),
            )
            .await
            .status
        }
    });
    let (read_statuses, write_statuses) = futures_util::future::join(
        futures_util::future::join_all(reads),
        futures_util::future::join_all(writes),
    )
    .await;
    assert!(read_statuses.iter().all(|s| *s == 200), "{read_statuses:?}");
    assert!(
        write_statuses.iter().all(|s| *s == 201),
        "{write_statuses:?}"
    );

    let log = entries(&app);
    let count = |action: &str| log.iter().filter(|(_, a, _, _)| a == action).count();
    assert_eq!(count("records.read"), READS);
    assert_eq!(count("records.create"), 1 + WRITES as usize);
    let seqs: Vec<i64> = log.iter().map(|(seq, ..)| *seq).collect();
    assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>());
    let mut conn = app.db.get().unwrap();
    assert_eq!(
        verify(&mut conn).unwrap(),
        Verification::Intact {
            entries: log.len() as i64
        }
    );
}

crate::on_both_backends!(
    reads_and_writes_are_audited_in_a_verifiable_chain,
    concurrent_reads_each_get_one_entry_in_an_intact_chain,
);

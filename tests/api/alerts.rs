//! Watchlists and alerts: the watchlist API, what is stored of it, and the
//! TLP × audience × reader relation matrix for each kind of alert.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use crate::records::{address_record, evm, sharing_cases};
use crate::webhooks::{alerts_caught_up, all_alerts};
use awc::http::Method;
use diesel::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tracewire::domain::{CommunityId, OrganizationId, OrganizationType};

async fn send(
    app: &TestApp,
    org: &TestOrg,
    method: Method,
    path: &str,
    body: Value,
) -> crate::helpers::Reply {
    let token = app.token(org).await;
    app.send_json(org, method, path, &token, body).await
}

async fn watchlists_are_private_canonical_idempotent_and_not_stored_in_the_clear(
    backend: TestBackend,
) {
    let app = TestApp::spawn(backend).await;
    let northwind = app.add_org("northwind", OrganizationType::Exchange, "indicators:read");
    let other = app.add_org("other", OrganizationType::Exchange, "indicators:read");
    let hub = app.add_org("hub", OrganizationType::Hub, "admin indicators:read");
    let address = "0x52908400098527886e0f7030069857d2e4169ee7";
    let items: Vec<Value> = (0..25)
        .map(|i| json!({ "chain": "eth", "address": evm(i), "label": format!("customer-{i}") }))
        .chain([json!({ "address": address, "label": "the secret customer" })])
        .collect();
    let added = send(
        &app,
        &northwind,
        Method::POST,
        "/v1/watchlist",
        json!({ "items": items }),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(
        added.body,
        json!({ "added": 26, "already_watched": 0, "total": 26 })
    );

    // Idempotent, however the address is typed (EIP-55 case, another EVM chain).
    let again = send(&app, &northwind, Method::POST, "/v1/watchlist",
        json!({ "items": [{ "address": address.to_uppercase().replacen("0X", "0x", 1) }, { "chain": "eth", "address": evm(3) }] })).await;
    assert_eq!(
        again.body,
        json!({ "added": 0, "already_watched": 2, "total": 26 }),
        "{}",
        again.body
    );

    // Atomic: one bad entry, nothing added, every bad entry named.
    let bad = send(&app, &northwind, Method::POST, "/v1/watchlist",
        json!({ "items": [{ "chain": "eth", "address": evm(90) }, { "chain": "btc", "address": "not-an-address" }, { "address": evm(91), "label": "x\u{0007}" }] })).await;
    bad.assert_problem(422, "validation-failed");
    let fields: Vec<(u64, String)> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        vec![(1, "address".to_owned()), (2, "label".to_owned())]
    );
    let token = app.token(&northwind).await;
    let count = app
        .get(&northwind, "/v1/watchlist/count", Some(&token))
        .await;
    assert_eq!(count.body, json!({ "count": 26 }));

    // Listing pages through sealed cursors; only the owner sees its entries.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = app
            .get(
                &northwind,
                &format!("/v1/watchlist?limit=10&after={after}"),
                Some(&token),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 26);
    let labels: BTreeSet<&str> = seen.iter().map(|e| e["label"].as_str().unwrap()).collect();
    assert!(labels.contains("the secret customer") && labels.contains("customer-24"));
    let other_token = app.token(&other).await;
    let theirs = app.get(&other, "/v1/watchlist", Some(&other_token)).await;
    assert_eq!(theirs.body["items"], json!([]));
    app.get(
        &other,
        &format!("/v1/watchlist?after={after}"),
        Some(&other_token),
    )
    .await
    .assert_problem(400, "bad-request");
    let hub_token = app.token(&hub).await;
    assert_eq!(
        app.get(&hub, "/v1/watchlist/count", Some(&hub_token))
            .await
            .body,
        json!({ "count": 0 })
    );

    // A copy of the database does not show the watched addresses or labels.
    {
        use tracewire::storage::schema::{alerts, watch_entries, watch_keys};
        let mut conn = app.db.get().unwrap();
        let entries: Vec<(String, String)> = watch_entries::table
            .select((watch_entries::entry_hash, watch_entries::sealed))
            .load(&mut conn)
            .unwrap();
        let keys: Vec<String> = watch_keys::table
            .select(watch_keys::key_hash)
            .load(&mut conn)
            .unwrap();
        let stored = format!("{entries:?}{keys:?}").to_lowercase();
        for secret in [&address[2..], &evm(3)[2..], "secret customer", "customer-1"] {
            assert!(!stored.contains(secret), "{secret} stored in the clear");
        }
        assert_eq!(
            alerts::table.count().get_result::<i64>(&mut conn).unwrap(),
            0
        );
    }

    // Removing: by address (any form) and by id; unknown ids are 404.
    let removed = send(
        &app,
        &northwind,
        Method::POST,
        "/v1/watchlist/remove",
        json!({ "items": [{ "chain": "bsc", "address": address }] }),
    )
    .await;
    assert_eq!(removed.body, json!({ "removed": 1 }), "{}", removed.body);
    // (Not the entry just removed: the listing's order is by id, not by address.)
    let id = seen.iter().find(|e| e["label"] == "customer-24").unwrap()["id"]
        .as_str()
        .unwrap();
    let token = app.token(&northwind).await;
    let path = format!("/v1/watchlist/{id}");
    let reply = app
        .client(Some(&northwind.certificate))
        .delete(app.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204);
    let reply = app
        .client(Some(&other.certificate))
        .delete(app.url(&path))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404, "another organization cannot remove it");
    assert_eq!(
        app.get(&northwind, "/v1/watchlist/count", Some(&token))
            .await
            .body,
        json!({ "count": 24 })
    );
}

/// The world of the matrix: the readers of `sharing_cases()`, plus an
/// outsider that only the "before" revision of `shared` alerts is shared with.
struct Matrix {
    app: TestApp,
    acme: TestOrg,
    readers: Vec<TestOrg>,
}

async fn matrix_world(backend: TestBackend) -> Matrix {
    let app = TestApp::spawn_with(backend, |s, _| s.alerts.poll_interval_ms = 50).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write sightings:write",
    );
    let ngo = app.add_org("ngo", OrganizationType::Ngo, "indicators:read");
    let member = app.add_org("member", OrganizationType::Ngo, "indicators:read");
    let exchange = app.add_org("exchange", OrganizationType::Exchange, "indicators:read");
    let hub = app.add_org("hub", OrganizationType::Hub, "admin indicators:read");
    app.add_org("outsider", OrganizationType::Ngo, "indicators:read");
    let mut conn = app.db.get().unwrap();
    for (community, member) in [("at", "member"), ("other-group", "exchange")] {
        let id = CommunityId::parse(community).unwrap();
        let actor = tracewire::audit::Actor::command_line();
        tracewire::partners::create_community(&mut conn, &actor, &id, community, "").unwrap();
        tracewire::partners::add_community_member(
            &mut conn,
            &actor,
            &id,
            &OrganizationId::parse(member).unwrap(),
        )
        .unwrap();
    }
    drop(conn);
    Matrix {
        app,
        readers: vec![acme.clone(), ngo, member, exchange, hub],
        acme,
    }
}

fn ids(reply: &crate::helpers::Reply) -> Vec<String> {
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// For each allowed TLP × audience and each kind of alert, exactly the
/// readers that may read the matching record get the alert; the others
/// get nothing about it.
async fn alerts_fire_exactly_for_the_readers_who_may_read(backend: TestBackend) {
    let m = matrix_world(backend).await;
    let (app, acme) = (&m.app, &m.acme);
    let cases = sharing_cases();
    let n = cases.len();
    // Address blocks per kind: record 0.., shared 100.., relationship 200..,
    // sighting 300.., revocation 400...
    let watched: Vec<Value> = (0..5)
        .flat_map(|k| (0..n).map(move |i| json!({ "chain": "eth", "address": evm(k * 100 + i) })))
        .collect();
    for reader in &m.readers {
        let added = send(
            app,
            reader,
            Method::POST,
            "/v1/watchlist",
            json!({ "items": watched }),
        )
        .await;
        assert_eq!(added.status, 200, "{}", added.body);
    }
    let with = |address: &str, (tlp, audience): (&str, &Value)| {
        address_record(address, tlp, audience.clone())
    };
    let outsider_only = json!({ "organizations": ["outsider"] });

    // record: a new address record under each sharing.
    let record_ids = ids(&crate::records::create(
        app,
        acme,
        cases
            .iter()
            .enumerate()
            .map(|(i, c)| with(&evm(i), (c.0, &c.1)))
            .collect(),
    )
    .await);
    // shared: first RED for an outsider, then widened to each sharing.
    let shared_ids = ids(&crate::records::create(
        app,
        acme,
        (0..n)
            .map(|i| with(&evm(100 + i), ("red", &outsider_only)))
            .collect(),
    )
    .await);
    let acme_token = app.token(acme).await;
    for (i, case) in cases.iter().enumerate() {
        let reply = app
            .send_json(
                acme,
                Method::PUT,
                &format!("/v1/records/{}", shared_ids[i]),
                &acme_token,
                with(&evm(100 + i), (case.0, &case.1)),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    // relationship: an address and a wallet only the outsider may read,
    // then a relationship under each sharing... (ends readable by all).
    let ends = ids(&crate::records::create(app, acme,
        (0..n).map(|i| with(&evm(200 + i), ("red", &outsider_only)))
            .chain([json!({"kind": "wallet", "chain": "eth", "name": "Cluster", "confidence": 70, "tlp": "clear", "method": "blockchain_analysis"})])
            .collect()).await);
    let wallet = ends[n].clone();
    for (i, id) in ends[..n].iter().enumerate() {
        // Make each address readable by everyone: a `shared` alert, not this test's subject.
        let reply = app
            .send_json(
                acme,
                Method::PUT,
                &format!("/v1/records/{id}"),
                &acme_token,
                with(&evm(200 + i), ("clear", &json!({}))),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let relationship_ids = ids(&crate::records::create(app, acme,
        cases.iter().enumerate().map(|(i, c)| json!({"kind": "relationship", "relation": "member_of", "from": ends[i], "to": wallet,
            "confidence": 90, "tlp": c.0, "audience": c.1, "method": "blockchain_analysis"})).collect()).await);
    // sighting: by address, no record, under each sharing.
    let sightings = app.send_json(acme, Method::POST, "/v1/sightings", &acme_token, json!({ "items":
        cases.iter().enumerate().map(|(i, c)| json!({"chain": "eth", "address": evm(300 + i), "seen_at": "2026-11-01T12:00:00Z",
            "count": 1, "context": "deposit", "tlp": c.0, "audience": c.1})).collect::<Vec<_>>() })).await;
    let sighting_ids = ids(&sightings);
    // revocation: a record under each sharing, then revoked.
    let revoked_ids = ids(&crate::records::create(
        app,
        acme,
        cases
            .iter()
            .enumerate()
            .map(|(i, c)| with(&evm(400 + i), (c.0, &c.1)))
            .collect(),
    )
    .await);
    alerts_caught_up(app).await;
    for id in &revoked_ids {
        let reply = app
            .send_json(
                acme,
                Method::POST,
                &format!("/v1/records/{id}/revoke"),
                &acme_token,
                json!(null),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    alerts_caught_up(app).await;

    for (r, reader) in m.readers.iter().enumerate() {
        let alerts = all_alerts(app, reader).await;
        let got: BTreeSet<(String, String)> = alerts
            .iter()
            .map(|a| {
                (
                    a["kind"].as_str().unwrap().to_owned(),
                    a["record_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            got.len(),
            alerts.len(),
            "{}: one alert per change",
            reader.id
        );
        let mut expected = BTreeSet::new();
        for (i, case) in cases.iter().enumerate() {
            let readable = case.2[r];
            let mut expect = |kind: &str, id: &String, when: bool| {
                if when {
                    expected.insert((kind.to_owned(), id.clone()));
                }
            };
            expect("record", &record_ids[i], readable);
            // The source could read the first revision: widening tells it nothing new.
            expect("shared", &shared_ids[i], readable && r != 0);
            expect("shared", &ends[i], r != 0);
            // ... and was alerted to the first revision, which it alone could read.
            expect("record", &shared_ids[i], r == 0);
            expect("record", &ends[i], r == 0);
            expect("relationship", &relationship_ids[i], readable);
            expect("sighting", &sighting_ids[i], readable);
            expect("record", &revoked_ids[i], readable);
            expect("revocation", &revoked_ids[i], readable);
        }
        assert_eq!(got, expected, "{}", reader.id);
        for alert in &alerts {
            assert_eq!(
                alert["screening"]["forms"][0]["address"]
                    .as_str()
                    .map(|a| a.len()),
                Some(42),
                "{alert}"
            );
            if alert["kind"] == "relationship" {
                let wallets = alert["screening"]["wallets"].as_array().unwrap();
                assert!(
                    wallets.iter().any(|w| w["record"]["id"] == wallet.as_str()),
                    "{alert}"
                );
            }
            if alert["kind"] == "revocation" {
                assert!(alert.get("record").is_none(), "revocations are tombstones");
            }
        }
    }
    // Acknowledging: only one's own alerts.
    let ngo = &m.readers[1];
    let ngo_alerts = all_alerts(app, ngo).await;
    let first = ngo_alerts[0]["id"].as_str().unwrap().to_owned();
    let exchange = &m.readers[3];
    let theirs = send(
        app,
        exchange,
        Method::POST,
        "/v1/alerts/acknowledge",
        json!({ "ids": [first] }),
    )
    .await;
    assert_eq!(theirs.body, json!({ "acknowledged": 0 }));
    let token = app.token(exchange).await;
    app.get(exchange, &format!("/v1/alerts/{first}"), Some(&token))
        .await
        .assert_problem(404, "not-found");
    let ours = send(
        app,
        ngo,
        Method::POST,
        "/v1/alerts/acknowledge",
        json!({ "ids": [first] }),
    )
    .await;
    assert_eq!(ours.body, json!({ "acknowledged": 1 }));
    let token = app.token(ngo).await;
    let open = app
        .get(
            ngo,
            "/v1/alerts?unacknowledged=true&limit=1000",
            Some(&token),
        )
        .await;
    assert_eq!(
        open.body["items"].as_array().unwrap().len(),
        ngo_alerts.len() - 1
    );
    let one = app
        .get(ngo, &format!("/v1/alerts/{first}"), Some(&token))
        .await;
    assert!(one.body["acknowledged_at"].is_string(), "{}", one.body);
}

crate::on_both_backends!(
    watchlists_are_private_canonical_idempotent_and_not_stored_in_the_clear,
    alerts_fire_exactly_for_the_readers_who_may_read,
);

//! Sightings: each follows its own sharing on every path (the record's
//! sightings, screening counts, the change feed, reads), and the sighted
//! record's source learns time and count of the ones it may not read.
use crate::helpers::{Reply, TestBackend, TestOrg};
use crate::records::{address_record, create, evm, sharing_cases, world, World};
use awc::http::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tracewire::domain::OrganizationType;

/// An exchange that screens and reports sightings but writes no indicators.
fn add_watcher(w: &World) -> TestOrg {
    w.app.add_org(
        "watch",
        OrganizationType::Exchange,
        "indicators:read sightings:write",
    )
}

async fn report(w: &World, org: &TestOrg, body: Value) -> Reply {
    let token = w.app.token(org).await;
    w.app
        .send_json(org, Method::POST, "/v1/sightings", &token, body)
        .await
}

async fn get(w: &World, org: &TestOrg, path: &str) -> Reply {
    let token = w.app.token(org).await;
    w.app.get(org, path, Some(&token)).await
}

fn sighting_of(record: &str, count: u32, tlp: &str, audience: Value) -> Value {
    json!({
        "sighting_of": record, "seen_at": "2026-11-01T12:00:00Z", "count": count,
        "context": "deposit", "tlp": tlp, "audience": audience,
    })
}

/// The ids of a 201 answer to a batch, in order.
fn created_ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect()
}

/// The ids of the `sighting` events in `org`'s change feed.
async fn sighting_events(w: &World, org: &TestOrg) -> BTreeSet<String> {
    let feed = get(w, org, "/v1/changes?limit=1000").await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "sighting")
        .map(|e| e["record_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every TLP × audience of a sighting, for every reader relation: the
/// sighting shows in the record's sightings, screening counts, the feed and
/// reads exactly where the reader may read it. The record's source (who may
/// not) gets a notice with time and count instead.
async fn sightings_follow_their_own_sharing(backend: TestBackend) {
    let w = world(backend).await;
    let watch = add_watcher(&w);
    let cases = sharing_cases();
    // One CLEAR record per case, readable by everyone, so only the
    // sighting's own sharing decides.
    let records = create(
        &w.app,
        &w.acme,
        (0..cases.len())
            .map(|i| address_record(&evm(i), "clear", json!({})))
            .collect(),
    )
    .await;
    assert_eq!(records.status, 201, "{}", records.body);
    let record_ids = created_ids(&records);
    let sightings: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (tlp, audience, _))| {
            sighting_of(&record_ids[i], i as u32 + 1, tlp, audience.clone())
        })
        .collect();
    let reported = report(&w, &watch, json!({ "items": sightings })).await;
    assert_eq!(reported.status, 201, "{}", reported.body);
    let sighting_ids = created_ids(&reported);
    assert_eq!(reported.body["items"][0]["kind"], "sighting");
    assert_eq!(
        reported.body["items"][0]["provenance"]["method"],
        "sighting"
    );
    assert_eq!(
        reported.body["items"][0]["sighting"]["of"],
        record_ids[0].as_str()
    );

    // (reader, which column of the sharing table it is): acme is neither
    // named nor a community member, like the exchange.
    let readers: [(&TestOrg, Option<usize>); 6] = [
        (&watch, None),
        (&w.ngo, Some(1)),
        (&w.member, Some(2)),
        (&w.exchange, Some(3)),
        (&w.hub, Some(4)),
        (&w.acme, Some(3)),
    ];
    for (reader, column) in readers {
        let feed = sighting_events(&w, reader).await;
        let screened = {
            let token = w.app.token(reader).await;
            let items: Vec<Value> = (0..cases.len())
                .map(|i| json!({ "chain": "eth", "address": evm(i) }))
                .collect();
            w.app
                .send_json(
                    reader,
                    Method::POST,
                    "/v1/screen",
                    &token,
                    json!({ "items": items }),
                )
                .await
        };
        assert_eq!(screened.status, 200, "{}", screened.body);
        for (i, case) in cases.iter().enumerate() {
            let visible = column.is_none_or(|c| case.2[c]);
            let what = format!("{} reading a {} {} sighting", reader.id, case.0, case.1);
            let count = i as u64 + 1;

            let listed = get(
                &w,
                reader,
                &format!("/v1/records/{}/sightings", record_ids[i]),
            )
            .await;
            assert_eq!(listed.status, 200, "{what}: {}", listed.body);
            let shown = listed.body["sightings"].as_array().unwrap();
            assert_eq!(shown.len(), usize::from(visible), "{what}: {}", listed.body);
            let expected_total = if visible { count } else { 0 };
            assert_eq!(listed.body["totals"]["count"], expected_total, "{what}");
            assert_eq!(
                listed.body["totals"]["reports"],
                usize::from(visible),
                "{what}"
            );
            if reader.id == w.acme.id {
                // The record's source always learns that it was seen.
                let unshared = listed.body["unshared"].as_array().unwrap();
                assert_eq!(unshared.len(), usize::from(!visible), "{what}");
                if !visible {
                    assert_eq!(
                        unshared[0],
                        json!({ "seen_at": "2026-11-01T12:00:00Z", "count": count }),
                        "{what}"
                    );
                    assert!(!listed.body.to_string().contains("watch"), "{what}");
                }
                assert_eq!(listed.body["all_totals"]["count"], count, "{what}");
            } else {
                assert!(listed.body.get("unshared").is_none(), "{what}");
                assert!(listed.body.get("all_totals").is_none(), "{what}");
            }

            let result = &screened.body["items"][i];
            assert_eq!(result["matched"], true, "{what}");
            assert_eq!(
                result["sightings"]["reports"],
                usize::from(visible),
                "{what}: {result}"
            );
            assert_eq!(result["sightings"]["count"], expected_total, "{what}");

            assert_eq!(feed.contains(&sighting_ids[i]), visible, "{what}");
            let read = get(&w, reader, &format!("/v1/records/{}", sighting_ids[i])).await;
            assert_eq!(read.status, if visible { 200 } else { 404 }, "{what}");
        }
    }
}

/// A sighting named by address matches the record in any form of the
/// address; an anonymous sighter stays hidden; sightings never make a
/// screening match on their own, never show as relationships, and stop
/// counting once revoked.
async fn sightings_by_address_and_what_the_source_learns(backend: TestBackend) {
    let w = world(backend).await;
    let watch = add_watcher(&w);
    let address = evm(40);
    let red = create(
        &w.app,
        &w.acme,
        vec![address_record(
            &address,
            "red",
            json!({"organizations": ["ngo"]}),
        )],
    )
    .await;
    assert_eq!(red.status, 201, "{}", red.body);
    let record = red.body["ids"][0].as_str().unwrap().to_owned();

    // One sighting, not a batch, on another EVM chain and in upper case.
    let reported = report(
        &w,
        &watch,
        json!({
            "chain": "bsc", "address": address.to_uppercase().replacen("0X", "0x", 1),
            "seen_at": "2026-11-02T08:30:00Z", "count": 5, "context": "withdrawal",
            "tlp": "red", "audience": { "organizations": ["ngo"] }, "attribution": "anonymous",
        }),
    )
    .await;
    assert_eq!(reported.status, 201, "{}", reported.body);
    assert_eq!(reported.body["count"], 1);
    let sighting = reported.body["ids"][0].as_str().unwrap().to_owned();
    assert_eq!(reported.body["items"][0]["address"], address.as_str());

    // The named recipient reads it, without the anonymous sighter's name.
    let ngo = get(&w, &w.ngo, &format!("/v1/records/{record}/sightings")).await;
    assert_eq!(ngo.status, 200, "{}", ngo.body);
    let shown = &ngo.body["sightings"][0];
    assert_eq!(shown["id"], sighting.as_str());
    assert_eq!(shown["sighting"]["context"], "withdrawal");
    assert_eq!(shown["sighting"]["count"], 5);
    assert_eq!(shown["provenance"]["source_organization"], Value::Null);
    assert!(!ngo.body.to_string().contains("watch"), "{}", ngo.body);

    // The record's source learns nothing of a sighting by address it may
    // not read (notices are for sightings naming its record by id: anyone
    // could file a record for an address to harvest them).
    let acme = get(&w, &w.acme, &format!("/v1/records/{record}/sightings")).await;
    assert_eq!(acme.body["sightings"], json!([]), "{}", acme.body);
    assert_eq!(acme.body["unshared"], json!([]));
    assert!(!acme.body.to_string().contains("watch"));
    assert!(!acme.body.to_string().contains("withdrawal"));

    // The sighter cannot see the record: 404 for its sightings, no match
    // when screening, but its own sighting still counts for it.
    let hidden = get(&w, &watch, &format!("/v1/records/{record}/sightings")).await;
    hidden.assert_problem(404, "not-found");
    let screened = get(&w, &watch, &format!("/v1/screen/any/{address}")).await;
    assert_eq!(screened.status, 200, "{}", screened.body);
    assert_eq!(screened.body["matched"], false);
    assert_eq!(screened.body["records"], json!([]));
    assert_eq!(screened.body["sightings"]["reports"], 1);
    let ngo_screen = get(&w, &w.ngo, &format!("/v1/screen/eth/{address}")).await;
    assert_eq!(ngo_screen.body["matched"], true);
    assert_eq!(ngo_screen.body["sightings"]["count"], 5);
    assert_eq!(
        ngo_screen.body["sightings"]["last_seen"],
        "2026-11-02T08:30:00Z"
    );
    let exchange_screen = get(&w, &w.exchange, &format!("/v1/screen/eth/{address}")).await;
    assert_eq!(exchange_screen.body["sightings"]["reports"], 0);

    // A sighting is not a relationship of the record.
    let relationships = get(&w, &w.ngo, &format!("/v1/records/{record}/relationships")).await;
    assert_eq!(relationships.body, json!([]));

    // The sighter revokes it (with sightings:write alone): it stops counting.
    let token = w.app.token(&watch).await;
    let revoked = w
        .app
        .send_json(
            &watch,
            Method::POST,
            &format!("/v1/records/{sighting}/revoke"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let after = get(&w, &w.ngo, &format!("/v1/screen/eth/{address}")).await;
    assert_eq!(after.body["sightings"]["reports"], 0);
    let acme_after = get(&w, &w.acme, &format!("/v1/records/{record}/sightings")).await;
    assert_eq!(acme_after.body["unshared"], json!([]));
}

/// Bad sightings are refused item by item, nothing is stored, and each
/// write path asks for the right scope.
async fn sightings_are_validated_and_need_their_scope(backend: TestBackend) {
    let w = world(backend).await;
    let watch = add_watcher(&w);
    let red = create(
        &w.app,
        &w.acme,
        vec![address_record(
            &evm(50),
            "red",
            json!({"organizations": ["ngo"]}),
        )],
    )
    .await;
    let invisible = red.body["ids"][0].as_str().unwrap().to_owned();
    let future = (chrono::Utc::now() + chrono::TimeDelta::days(2)).to_rfc3339();
    // Unseen records are checked once every item is well formed.
    let unseen = report(&w, &watch, sighting_of(&invisible, 1, "green", json!({}))).await;
    unseen.assert_problem(422, "validation-failed");
    // A record the sighter may not see reads exactly as a missing one.
    assert_eq!(
        unseen.body["errors"][0],
        json!({ "index": 0, "field": "sighting_of", "message": format!("no record {invisible}") })
    );
    let missing = report(
        &w,
        &watch,
        json!(sighting_of(
            "0190a4b8-0000-7000-8000-000000000000",
            1,
            "green",
            json!({})
        )),
    )
    .await;
    assert_eq!(
        missing.body["errors"][0]["message"].as_str().unwrap(),
        "no record 0190a4b8-0000-7000-8000-000000000000"
    );

    let items = json!([
        { "sighting_of": "not-an-id", "seen_at": "2026-11-01T00:00:00Z", "context": "deposit", "tlp": "green" },
        { "sighting_of": invisible, "chain": "eth", "address": evm(50), "seen_at": "2026-11-01T00:00:00Z",
          "context": "deposit", "tlp": "green" },
        { "chain": "eth", "address": evm(51), "context": "deposit", "tlp": "green" },
        { "chain": "eth", "address": evm(51), "seen_at": future, "context": "deposit", "tlp": "green" },
        { "chain": "eth", "address": evm(51), "seen_at": "2026-11-01T00:00:00Z", "count": 0,
          "context": "sale", "tlp": "green" },
        { "kind": "address", "chain": "eth", "address": evm(52), "tlp": "green" },
        { "chain": "eth", "address": evm(53), "seen_at": "2026-11-01T00:00:00Z", "context": "ad", "tlp": "green" },
    ]);
    let refused = report(&w, &watch, json!({ "items": items })).await;
    refused.assert_problem(422, "validation-failed");
    let errors: BTreeSet<(u64, String)> = refused.body["errors"]
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
    for expected in [
        (0, "sighting_of"), // not a record id
        (1, "sighting_of"), // a record and an address
        (2, "seen_at"),
        (3, "seen_at"), // in the future
        (4, "count"),
        (4, "context"),
        (5, "kind"),
    ] {
        assert!(
            errors.contains(&(expected.0, expected.1.to_owned())),
            "{expected:?} missing in {}",
            refused.body
        );
    }
    assert!(
        !errors.iter().any(|(index, _)| *index == 6),
        "{}",
        refused.body
    );
    // Nothing of the refused batch was stored.
    let feed = sighting_events(&w, &watch).await;
    assert!(feed.is_empty(), "{feed:?}");

    // Scopes: reporting needs sightings:write, on either endpoint.
    let good = json!({ "chain": "eth", "address": evm(53), "seen_at": "2026-11-01T00:00:00Z",
        "context": "ad", "tlp": "green" });
    report(&w, &w.exchange, good.clone())
        .await
        .assert_problem(403, "insufficient-scope");
    let mut as_record = good.clone();
    as_record["kind"] = json!("sighting");
    as_record["method"] = json!("sighting");
    as_record["confidence"] = json!(100);
    create(&w.app, &w.acme, vec![as_record])
        .await
        .assert_problem(403, "insufficient-scope");
    // The watcher may report but may not revoke another kind of record it
    // does not own, nor write indicators.
    let token = w.app.token(&watch).await;
    w.app
        .send_json(
            &watch,
            Method::POST,
            "/v1/records",
            &token,
            json!({ "items": [address_record(&evm(54), "green", json!({}))] }),
        )
        .await
        .assert_problem(403, "insufficient-scope");
    let stored = report(&w, &watch, good).await;
    assert_eq!(stored.status, 201, "{}", stored.body);
}

crate::on_both_backends!(
    sightings_follow_their_own_sharing,
    sightings_by_address_and_what_the_source_learns,
    sightings_are_validated_and_need_their_scope,
);

//! Intelligence records: atomic batches, validation, canonical addresses,
//! and the sharing rules on every read path.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use awc::http::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tracewire::domain::{CommunityId, OrganizationId, OrganizationType};

pub struct World {
    pub app: TestApp,
    /// Source of the records.
    pub acme: TestOrg,
    /// Named recipient.
    pub ngo: TestOrg,
    /// Member of the community `at`.
    pub member: TestOrg,
    /// A partner nothing is shared with (member of another community).
    pub exchange: TestOrg,
    /// The hub administrator.
    pub hub: TestOrg,
}

pub async fn world(backend: TestBackend) -> World {
    let app = TestApp::spawn(backend).await;
    let all = "indicators:read indicators:write";
    let acme = app.add_org("acme", OrganizationType::Forensics, all);
    let ngo = app.add_org("ngo", OrganizationType::Ngo, all);
    let member = app.add_org("member", OrganizationType::Ngo, all);
    let exchange = app.add_org("exchange", OrganizationType::Exchange, "indicators:read");
    let hub = app.add_org("hub", OrganizationType::Hub, "admin indicators:read");
    {
        let mut conn = app.db.get().unwrap();
        for (community, member) in [("at", "member"), ("other-group", "exchange")] {
            let id = CommunityId::parse(community).unwrap();
            tracewire::partners::create_community(
                &mut conn,
                &tracewire::audit::Actor::command_line(),
                &id,
                community,
                "",
            )
            .unwrap();
            tracewire::partners::add_community_member(
                &mut conn,
                &tracewire::audit::Actor::command_line(),
                &id,
                &OrganizationId::parse(member).unwrap(),
            )
            .unwrap();
        }
    }
    World {
        app,
        acme,
        ngo,
        member,
        exchange,
        hub,
    }
}

pub fn address_record(address: &str, tlp: &str, audience: Value) -> Value {
    json!({
        "kind": "address", "chain": "eth", "address": address,
        "categories": ["human_trafficking"], "confidence": 80,
        "tlp": tlp, "audience": audience, "method": "investigation",
    })
}

/// A valid, distinct EVM address for record `n`.
pub fn evm(n: usize) -> String {
    format!("0x{:040x}", 0xdead_0000_u64 + n as u64)
}

pub async fn create(app: &TestApp, org: &TestOrg, items: Vec<Value>) -> crate::helpers::Reply {
    let token = app.token(org).await;
    app.send_json(
        org,
        Method::POST,
        "/v1/records",
        &token,
        json!({ "items": items }),
    )
    .await
}

async fn visible_ids(app: &TestApp, org: &TestOrg) -> BTreeSet<String> {
    let token = app.token(org).await;
    let page = app.get(org, "/v1/records?limit=1000", Some(&token)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every allowed TLP × audience, with who may read it:
/// (tlp, audience, readable by [source, ngo, member, exchange, hub]).
pub fn sharing_cases() -> Vec<(&'static str, Value, [bool; 5])> {
    let named = json!({"organizations": ["ngo"]});
    let community = json!({"communities": ["at"]});
    vec![
        ("clear", json!({}), [true, true, true, true, true]),
        ("green", json!({}), [true, true, true, true, true]),
        (
            "green",
            community.clone(),
            [true, false, true, false, false],
        ),
        ("amber", named.clone(), [true, true, false, false, false]),
        ("amber", community, [true, false, true, false, false]),
        (
            "amber+strict",
            named.clone(),
            [true, true, false, false, false],
        ),
        ("red", named, [true, true, false, false, false]),
    ]
}

/// The record ids of an export (CSV: the `id` column; JSON lines: each line's `id`).
pub async fn exported_ids(
    app: &TestApp,
    org: &TestOrg,
    token: &str,
    format: &str,
) -> BTreeSet<String> {
    let (status, _, body) = app
        .get_text(org, &format!("/v1/records/export?format={format}"), token)
        .await;
    assert_eq!(status, 200, "{body}");
    if format == "csv" {
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        assert_eq!(reader.headers().unwrap().get(0), Some("id"));
        reader
            .records()
            .map(|r| r.unwrap().get(0).unwrap().to_owned())
            .collect()
    } else {
        body.lines()
            .map(|line| {
                let record: Value = serde_json::from_str(line).unwrap();
                record["id"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

/// Every allowed TLP × audience, read by the source, a named recipient, a
/// community member, another partner and the hub admin, through get, list,
/// count and both export formats.
async fn sharing_rules_hold_on_every_read_path(backend: TestBackend) {
    let w = world(backend).await;
    let cases = sharing_cases();
    let items: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (tlp, audience, _))| address_record(&evm(i), tlp, audience.clone()))
        .collect();
    let created = create(&w.app, &w.acme, items).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let ids: Vec<String> = created.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();

    let readers = [&w.acme, &w.ngo, &w.member, &w.exchange, &w.hub];
    for (reader_index, reader) in readers.iter().enumerate() {
        let token = w.app.token(reader).await;
        let listed = visible_ids(&w.app, reader).await;
        for (case, id) in cases.iter().zip(&ids) {
            let expected = case.2[reader_index];
            let reply = w
                .app
                .get(reader, &format!("/v1/records/{id}"), Some(&token))
                .await;
            if expected {
                assert_eq!(
                    reply.status, 200,
                    "{} reading {} {}: {}",
                    reader.id, case.0, case.1, reply.body
                );
            } else {
                // Indistinguishable from a record that does not exist.
                reply.assert_problem(404, "not-found");
                let missing = w
                    .app
                    .get(
                        reader,
                        &format!("/v1/records/{}", uuid::Uuid::now_v7()),
                        Some(&token),
                    )
                    .await;
                assert_eq!(reply.body, missing.body);
            }
            assert_eq!(
                listed.contains(id),
                expected,
                "{} listing {} {}",
                reader.id,
                case.0,
                case.1
            );
        }
        // Lists hold nothing else either.
        let expected_count = cases.iter().filter(|c| c.2[reader_index]).count();
        assert_eq!(listed.len(), expected_count, "{}", reader.id);
        // Counts and both export formats agree with the list.
        let count = w.app.get(reader, "/v1/records/count", Some(&token)).await;
        assert_eq!(count.status, 200, "{}", count.body);
        assert_eq!(count.body["count"], expected_count, "{} count", reader.id);
        assert_eq!(
            exported_ids(&w.app, reader, &token, "csv").await,
            listed,
            "{} csv",
            reader.id
        );
        assert_eq!(
            exported_ids(&w.app, reader, &token, "jsonl").await,
            listed,
            "{} jsonl",
            reader.id
        );
    }

    // A RED record shows the recipient only itself, never the other recipients.
    let red = create(
        &w.app,
        &w.acme,
        vec![address_record(
            &evm(99),
            "red",
            json!({"organizations": ["ngo", "member"]}),
        )],
    )
    .await;
    let id = red.body["items"][0]["id"].as_str().unwrap();
    let token = w.app.token(&w.ngo).await;
    let seen = w
        .app
        .get(&w.ngo, &format!("/v1/records/{id}"), Some(&token))
        .await;
    assert_eq!(seen.body["audience"]["organizations"], json!(["ngo"]));
}

async fn a_batch_with_bad_items_stores_nothing(backend: TestBackend) {
    let w = world(backend).await;
    let mut bad_address = address_record(&evm(1), "green", json!({}));
    bad_address["address"] = json!("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"); // EIP-55 checksum broken (last letter)
    let mut bad_category = address_record(&evm(2), "green", json!({}));
    bad_category["categories"] = json!(["trafficking"]);
    let bad_sharing = address_record(&evm(3), "red", json!({"all_partners": true}));
    let items = vec![
        address_record(&evm(0), "green", json!({})),
        bad_address,
        bad_category,
        bad_sharing,
    ];
    let reply = create(&w.app, &w.acme, items).await;
    reply.assert_problem(422, "validation-failed");
    let errors: Vec<(u64, &str)> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        vec![(1, "address"), (2, "categories"), (3, "audience")],
        "{}",
        reply.body
    );
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("EIP-55"),
        "{}",
        reply.body
    );
    assert!(
        visible_ids(&w.app, &w.acme).await.is_empty(),
        "nothing may be stored"
    );

    // Unknown recipients are named too, and still nothing is stored.
    let reply = create(
        &w.app,
        &w.acme,
        vec![address_record(
            &evm(4),
            "red",
            json!({"organizations": ["ghost-org"]}),
        )],
    )
    .await;
    reply.assert_problem(422, "validation-failed");
    assert_eq!(reply.body["errors"][0]["field"], "audience.organizations");
    assert!(visible_ids(&w.app, &w.acme).await.is_empty());
}

async fn addresses_are_found_however_they_are_typed(backend: TestBackend) {
    let w = world(backend).await;
    // Stored from its EIP-55 mixed-case form on Ethereum…
    let reply = create(
        &w.app,
        &w.acme,
        vec![address_record(
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "green",
            json!({}),
        )],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.body["items"][0]["address"],
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    );
    let id = reply.body["items"][0]["id"].as_str().unwrap().to_owned();
    let token = w.app.token(&w.exchange).await;
    // …found lower-case, upper-case, and on another EVM chain.
    for query in [
        "address=0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "address=0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED",
        "address=0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed&chain=bsc",
    ] {
        let page = w
            .app
            .get(&w.exchange, &format!("/v1/records?{query}"), Some(&token))
            .await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        assert_eq!(page.body["items"][0]["id"], id, "{query}: {}", page.body);
    }
    // A miss is a miss, and garbage is a clear 422.
    let page = w
        .app
        .get(
            &w.exchange,
            &format!("/v1/records?address={}", evm(7)),
            Some(&token),
        )
        .await;
    assert_eq!(page.body["items"], json!([]));
    let page = w
        .app
        .get(
            &w.exchange,
            "/v1/records?address=not-an-address",
            Some(&token),
        )
        .await;
    page.assert_problem(422, "validation-failed");
}

async fn anonymous_sources_are_hidden(backend: TestBackend) {
    let w = world(backend).await;
    let mut record = address_record(&evm(5), "green", json!({}));
    record["attribution"] = json!("anonymous");
    let reply = create(&w.app, &w.acme, vec![record]).await;
    let id = reply.body["items"][0]["id"].as_str().unwrap().to_owned();

    let own = w
        .app
        .get(
            &w.acme,
            &format!("/v1/records/{id}"),
            Some(&w.app.token(&w.acme).await),
        )
        .await;
    assert_eq!(own.body["provenance"]["source_organization"], "acme");
    assert_eq!(own.body["provenance"]["submitted_by"], "acme-client");

    let token = w.app.token(&w.exchange).await;
    let other = w
        .app
        .get(&w.exchange, &format!("/v1/records/{id}"), Some(&token))
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.body["provenance"]["source_organization"], Value::Null);
    assert_eq!(other.body["provenance"]["submitted_by"], Value::Null);
    // Filtering by source does not reveal it either.
    let page = w
        .app
        .get(&w.exchange, "/v1/records?source=acme", Some(&token))
        .await;
    assert_eq!(page.body["items"], json!([]), "{}", page.body);
}

async fn relationships_link_visible_records_of_fitting_kinds(backend: TestBackend) {
    let w = world(backend).await;
    let wallet = json!({"kind": "wallet", "chain": "eth", "name": "Cluster 7", "confidence": 70, "tlp": "green", "method": "blockchain_analysis"});
    let entity = json!({"kind": "entity", "name": "Network X", "entity_type": "trafficking_network", "aliases": ["NX"],
        "categories": ["human_trafficking"], "confidence": 60, "tlp": "amber", "audience": {"organizations": ["ngo"]}, "method": "investigation"});
    let reply = create(
        &w.app,
        &w.acme,
        vec![address_record(&evm(10), "green", json!({})), wallet, entity],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let ids: Vec<String> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let link = |relation: &str, from: &str, to: &str| {
        json!({"kind": "relationship", "relation": relation, "from": from, "to": to, "confidence": 90, "tlp": "amber",
            "audience": {"organizations": ["ngo"]}, "method": "blockchain_analysis"})
    };
    let reply = create(
        &w.app,
        &w.acme,
        vec![
            link("member_of", &ids[0], &ids[1]),
            link("attributed_to", &ids[1], &ids[2]),
        ],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);

    let links: Vec<String> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();

    // The NGO (shown the AMBER links) walks address -> wallet -> entity.
    let ngo = w.app.token(&w.ngo).await;
    let walk = w
        .app
        .get(
            &w.ngo,
            &format!("/v1/records/{}/attribution", ids[0]),
            Some(&ngo),
        )
        .await;
    assert_eq!(walk.status, 200, "{}", walk.body);
    assert_eq!(walk.body["wallets"][0]["record"]["id"], ids[1].as_str());
    assert_eq!(
        walk.body["wallets"][0]["relationship"]["id"],
        links[0].as_str()
    );
    assert_eq!(walk.body["entities"][0]["record"]["name"], "Network X");
    let related = w
        .app
        .get(
            &w.ngo,
            &format!("/v1/records/{}/relationships", ids[1]),
            Some(&ngo),
        )
        .await;
    assert_eq!(
        related.body.as_array().unwrap().len(),
        2,
        "{}",
        related.body
    );

    // The exchange sees the GREEN address and wallet, but not the AMBER links between them.
    let exchange = w.app.token(&w.exchange).await;
    let walk = w
        .app
        .get(
            &w.exchange,
            &format!("/v1/records/{}/attribution", ids[0]),
            Some(&exchange),
        )
        .await;
    assert_eq!(walk.status, 200, "{}", walk.body);
    assert_eq!(
        (walk.body["wallets"].clone(), walk.body["entities"].clone()),
        (json!([]), json!([]))
    );
    let related = w
        .app
        .get(
            &w.exchange,
            &format!("/v1/records/{}/relationships", ids[1]),
            Some(&exchange),
        )
        .await;
    assert_eq!(related.body, json!([]));
    w.app
        .get(
            &w.exchange,
            &format!("/v1/records/{}/attribution", ids[2]),
            Some(&exchange),
        )
        .await
        .assert_problem(404, "not-found");

    // A revoked link is no longer walked.
    let acme = w.app.token(&w.acme).await;
    let revoked = w
        .app
        .send_json(
            &w.acme,
            Method::POST,
            &format!("/v1/records/{}/revoke", links[0]),
            &acme,
            json!(null),
        )
        .await;
    assert_eq!(revoked.status, 200);
    let walk = w
        .app
        .get(
            &w.ngo,
            &format!("/v1/records/{}/attribution", ids[0]),
            Some(&ngo),
        )
        .await;
    assert_eq!(walk.body["wallets"], json!([]), "{}", walk.body);

    // Wrong kinds are refused, by index and end.
    let reply = create(&w.app, &w.acme, vec![link("member_of", &ids[2], &ids[1])]).await;
    reply.assert_problem(422, "validation-failed");
    assert_eq!(reply.body["errors"][0]["field"], "from");

    // The exchange cannot link to the AMBER entity it cannot see: it is "no record".
    let exchange_writer = w.app.add_org(
        "writer",
        OrganizationType::Exchange,
        "indicators:read indicators:write",
    );
    let reply = create(
        &w.app,
        &exchange_writer,
        vec![link("attributed_to", &ids[1], &ids[2])],
    )
    .await;
    reply.assert_problem(422, "validation-failed");
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("no record"),
        "{}",
        reply.body
    );

    // Text search finds the entity by alias, for those who may see it.
    let token = w.app.token(&w.ngo).await;
    let page = w
        .app
        .get(&w.ngo, "/v1/records?q=nx&kind=entity", Some(&token))
        .await;
    assert_eq!(
        page.body["items"][0]["id"],
        ids[2].as_str(),
        "{}",
        page.body
    );
    let token = w.app.token(&w.exchange).await;
    let page = w
        .app
        .get(&w.exchange, "/v1/records?q=nx", Some(&token))
        .await;
    assert_eq!(page.body["items"], json!([]));
}

async fn writing_needs_the_write_scope_and_pages_are_stable(backend: TestBackend) {
    let w = world(backend).await;
    let reply = create(
        &w.app,
        &w.exchange,
        vec![address_record(&evm(20), "green", json!({}))],
    )
    .await;
    reply.assert_problem(403, "insufficient-scope");

    let items: Vec<Value> = (0..25)
        .map(|i| address_record(&evm(100 + i), "green", json!({})))
        .collect();
    assert_eq!(create(&w.app, &w.acme, items).await.status, 201);
    let token = w.app.token(&w.ngo).await;
    let mut seen = Vec::new();
    let mut path = "/v1/records?limit=10".to_owned();
    loop {
        let page = w.app.get(&w.ngo, &path, Some(&token)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next"].as_str() {
            Some(next) => path = format!("/v1/records?limit=10&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 25, "no duplicates across pages");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "stable id order");
}

async fn revisions_are_kept_hashed_and_readable_by_their_readers(backend: TestBackend) {
    let w = world(backend).await;
    let reply = create(
        &w.app,
        &w.acme,
        vec![address_record(&evm(30), "green", json!({}))],
    )
    .await;
    let id = reply.body["items"][0]["id"].as_str().unwrap().to_owned();
    let first_hash = reply.body["items"][0]["content_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let acme = w.app.token(&w.acme).await;
    let path = format!("/v1/records/{id}");

    // Others cannot change it: 403 if they can read it, 404 if they cannot.
    let ngo = w.app.token(&w.ngo).await;
    let narrowed = address_record(&evm(30), "red", json!({"organizations": ["ngo"]}));
    w.app
        .send_json(&w.ngo, Method::PUT, &path, &ngo, narrowed.clone())
        .await
        .assert_problem(403, "not-record-source");

    // The source narrows it to RED for the NGO: revision 2.
    let updated = w
        .app
        .send_json(&w.acme, Method::PUT, &path, &acme, narrowed)
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["revision"], 2);
    assert_ne!(updated.body["content_hash"], first_hash.as_str());

    // The exchange could read revision 1 only: the record is gone for it,
    // its history with it (a record is shown whole or not at all).
    let exchange = w.app.token(&w.exchange).await;
    w.app
        .get(&w.exchange, &path, Some(&exchange))
        .await
        .assert_problem(404, "not-found");
    w.app
        .get(&w.exchange, &format!("{path}/revisions"), Some(&exchange))
        .await
        .assert_problem(404, "not-found");
    let history = w
        .app
        .get(&w.ngo, &format!("{path}/revisions"), Some(&ngo))
        .await;
    assert_eq!(history.body.as_array().unwrap().len(), 2);
    w.app
        .send_json(
            &w.exchange,
            Method::PUT,
            &path,
            &exchange,
            address_record(&evm(30), "green", json!({})),
        )
        .await
        .assert_problem(403, "insufficient-scope");

    // Every revision's hash is SHA-256 over its canonical content.
    let history = w
        .app
        .get(&w.acme, &format!("{path}/revisions"), Some(&acme))
        .await;
    for revision in history.body.as_array().unwrap() {
        let mut content = revision.clone();
        let object = content.as_object_mut().unwrap();
        let hash = object.remove("content_hash").unwrap();
        object.remove("received_at");
        use sha2::Digest;
        let expected = hex::encode(sha2::Sha256::digest(content.to_string().as_bytes()));
        assert_eq!(hash, expected.as_str(), "revision {}", revision["revision"]);
    }

    // The kind cannot change.
    let entity = json!({"kind": "entity", "name": "X", "entity_type": "market", "confidence": 5, "tlp": "green", "method": "osint"});
    let reply = w
        .app
        .send_json(&w.acme, Method::PUT, &path, &acme, entity)
        .await;
    reply.assert_problem(422, "validation-failed");
    assert_eq!(reply.body["errors"][0]["field"], "kind");

    // Revocation is a revision too; revoked records leave default listings.
    let revoked = w
        .app
        .send_json(
            &w.acme,
            Method::POST,
            &format!("{path}/revoke"),
            &acme,
            json!(null),
        )
        .await;
    assert_eq!(
        (
            revoked.body["revision"].as_i64(),
            revoked.body["revoked"].as_bool()
        ),
        (Some(3), Some(true)),
        "{}",
        revoked.body
    );
    assert!(!visible_ids(&w.app, &w.ngo).await.contains(&id));
    let page = w
        .app
        .get(&w.ngo, "/v1/records?include_revoked=true", Some(&ngo))
        .await;
    assert_eq!(page.body["items"][0]["revoked"], true, "{}", page.body);
    let again = w
        .app
        .send_json(
            &w.acme,
            Method::POST,
            &format!("{path}/revoke"),
            &acme,
            json!(null),
        )
        .await;
    assert_eq!(again.body["revision"], 3, "revoking twice changes nothing");
}

crate::on_both_backends!(
    revisions_are_kept_hashed_and_readable_by_their_readers,
    sharing_rules_hold_on_every_read_path,
    a_batch_with_bad_items_stores_nothing,
    addresses_are_found_however_they_are_typed,
    anonymous_sources_are_hidden,
    relationships_link_visible_records_of_fitting_kinds,
    writing_needs_the_write_scope_and_pages_are_stable,
);

//! The side doors of the sharing rules, tried as an adversarial partner
//! would: content hashes brute-forced against every organization, client
//! and audience; sighting notices harvested by filing a record late;
//! references to invisible records; cursors compared around hidden writes;
//! histories that were narrowed or widened.
use crate::helpers::{read_json, Reply, TestApp, TestBackend, TestOrg};
use crate::records::{address_record, create, evm, sharing_cases, world};
use awc::http::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

async fn get(app: &TestApp, org: &TestOrg, path: &str) -> Reply {
    let token = app.token(org).await;
    app.get(org, path, Some(&token)).await
}

async fn put(app: &TestApp, org: &TestOrg, path: &str, body: Value) -> Reply {
    let token = app.token(org).await;
    app.send_json(org, Method::PUT, path, &token, body).await
}

/// A TAXII GET with the TAXII media type.
async fn taxii(app: &TestApp, org: &TestOrg, path: &str) -> Reply {
    let token = app.token(org).await;
    let request = app
        .client(Some(&org.certificate))
        .get(app.url(path))
        .bearer_auth(&token)
        .insert_header(("Accept", "application/taxii+json;version=2.1"));
    Reply::from(read_json(request.send().await).await.unwrap())
}

/// The intelligence collection.
const COLLECTION: &str = "/taxii2/api/collections/5f2e9c1a-7b3d-4e8f-a6c2-91d0b4e7f3a8";

/// A second API client of `org` that may also write sightings.
fn sighting_client(app: &TestApp, org: &TestOrg) -> TestOrg {
    let client_id = format!("{}-sightings", org.id);
    let mut conn = app.db.get().unwrap();
    tracewire::partners::create_client(
        &mut conn,
        &tracewire::audit::Actor::command_line(),
        &tracewire::domain::OrganizationId::parse(&org.id).unwrap(),
        tracewire::domain::ClientId::parse(&client_id).unwrap(),
        "sightings".into(),
        tracewire::domain::Scopes::parse("indicators:read indicators:write sightings:write")
            .unwrap(),
        chrono::TimeDelta::zero(),
    )
    .unwrap();
    TestOrg {
        client_id,
        ..org.clone()
    }
}

fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect()
}

fn sha256(value: &Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

/// The content a view shows (without the envelope fields that are not hashed).
fn content_of(view: &Value) -> Value {
    let mut content = view.clone();
    for field in ["content_hash", "created_at", "updated_at", "received_at"] {
        content.as_object_mut().unwrap().remove(field);
    }
    content
}

/// Every record view a reader can get of record `id`: the record, the
/// listing, its revisions, the feed and the JSON-lines export.
async fn every_view_of(app: &TestApp, reader: &TestOrg, id: &str) -> Vec<(String, Value, String)> {
    let mut views = Vec::new();
    let one = get(app, reader, &format!("/v1/records/{id}")).await;
    assert_eq!(one.status, 200, "{}", one.body);
    views.push((
        "get".into(),
        content_of(&one.body),
        one.body["content_hash"].as_str().unwrap().into(),
    ));
    let list = get(app, reader, "/v1/records?limit=1000").await;
    for item in list.body["items"].as_array().unwrap() {
        if item["id"] == id {
            views.push((
                "list".into(),
                content_of(item),
                item["content_hash"].as_str().unwrap().into(),
            ));
        }
    }
    let revisions = get(app, reader, &format!("/v1/records/{id}/revisions")).await;
    for item in revisions.body.as_array().unwrap() {
        views.push((
            "revisions".into(),
            content_of(item),
            item["content_hash"].as_str().unwrap().into(),
        ));
    }
    let feed = get(app, reader, "/v1/changes?limit=1000").await;
    for event in feed.body["items"].as_array().unwrap() {
        if event["record_id"] == id && event["record"].is_object() {
            views.push((
                "feed".into(),
                event["record"].clone(),
                event["content_hash"].as_str().unwrap().into(),
            ));
        }
    }
    let token = app.token(reader).await;
    let (status, _, body) = app
        .get_text(reader, "/v1/records/export?format=jsonl", &token)
        .await;
    assert_eq!(status, 200);
    for line in body.lines() {
        let item: Value = serde_json::from_str(line).unwrap();
        if item["id"] == id {
            views.push((
                "jsonl".into(),
                content_of(&item),
                item["content_hash"].as_str().unwrap().into(),
            ));
        }
    }
    assert!(views.len() >= 5, "every path shows the record: {views:?}");
    views
}

/// Every way to fill in what a reader of `content` may not see, from what
/// it knows of the hub: each organization and client as source and
/// submitter, and each set of other recipients.
fn guesses(content: &Value, orgs: &[&TestOrg], communities: &[&str]) -> Vec<Value> {
    let mut sources: Vec<(Value, Value)> = vec![(Value::Null, Value::Null)];
    for org in orgs {
        for client in orgs {
            sources.push((json!(org.id), json!(client.client_id)));
        }
    }
    let names: Vec<String> = orgs.iter().map(|o| o.id.clone()).collect();
    let mut audiences = Vec::new();
    for org_mask in 0..(1u32 << names.len()) {
        for community_mask in 0..(1u32 << communities.len()) {
            let mut organizations: Vec<&String> = names
                .iter()
                .enumerate()
                .filter(|(i, _)| org_mask & (1 << i) != 0)
                .map(|(_, n)| n)
                .collect();
            organizations.sort();
            let mut chosen: Vec<&str> = communities
                .iter()
                .enumerate()
                .filter(|(i, _)| community_mask & (1 << i) != 0)
                .map(|(_, c)| *c)
                .collect();
            chosen.sort();
            audiences.push((json!(organizations), json!(chosen)));
        }
    }
    let mut all = Vec::new();
    for (source, submitter) in &sources {
        for (organizations, chosen) in &audiences {
            let mut guess = content.clone();
            guess["provenance"]["source_organization"] = source.clone();
            guess["provenance"]["submitted_by"] = submitter.clone();
            guess["audience"]["organizations"] = organizations.clone();
            guess["audience"]["communities"] = chosen.clone();
            all.push(guess);
        }
    }
    all
}

/// An anonymous AMBER record, shared with a named organization and a
/// community: its readers can check the hash of what they were given, and
/// no guess of its source, submitter or other recipients matches it.
async fn content_hashes_resist_brute_force(backend: TestBackend) {
    let w = world(backend).await;
    let mut record = address_record(
        &evm(1),
        "amber",
        json!({"organizations": ["ngo"], "communities": ["at"]}),
    );
    record["attribution"] = json!("anonymous");
    let id = ids(&create(&w.app, &w.acme, vec![record]).await).remove(0);
    // A second revision, so revision history is on the paths too.
    let mut second = address_record(
        &evm(1),
        "amber",
        json!({"organizations": ["ngo"], "communities": ["at"]}),
    );
    second["attribution"] = json!("anonymous");
    second["confidence"] = json!(90);
    let updated = put(&w.app, &w.acme, &format!("/v1/records/{id}"), second).await;
    assert_eq!(updated.status, 200, "{}", updated.body);

    let orgs = [&w.acme, &w.ngo, &w.member, &w.exchange, &w.hub];
    let communities = ["at", "other-group"];
    for reader in [&w.ngo, &w.member] {
        for (path, content, hash) in every_view_of(&w.app, reader, &id).await {
            assert!(
                content["provenance"]["source_organization"].is_null(),
                "{path}"
            );
            assert_eq!(
                sha256(&content),
                hash,
                "{path}: the hash covers what {} sees",
                reader.id
            );
            let tried = guesses(&content, &orgs, &communities);
            assert!(tried.len() > 1000);
            for guess in tried.into_iter().filter(|g| *g != content) {
                assert_ne!(
                    sha256(&guess),
                    hash,
                    "{path}: {} recovered {guess}",
                    reader.id
                );
            }
        }
    }
    // The source sees everything, and its hashes are the stored ones the
    // audit chain covers.
    let stored: Vec<String> = {
        use diesel::prelude::*;
        use tracewire::storage::schema::record_revisions;
        let mut conn = w.app.db.get().unwrap();
        record_revisions::table
            .filter(record_revisions::record_id.eq(&id))
            .order(record_revisions::revision)
            .select(record_revisions::content_hash)
            .load(&mut *conn)
            .unwrap()
    };
    let revisions = get(&w.app, &w.acme, &format!("/v1/records/{id}/revisions")).await;
    let shown: Vec<String> = revisions
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(sha256(&content_of(r)), r["content_hash"].as_str().unwrap());
            r["content_hash"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(shown, stored);
}

/// Only the source of a record that a sighting names by id hears of the
/// sightings it may not read; filing a record for the address afterwards
/// harvests nothing.
async fn sighting_notices_reach_only_the_named_record_source(backend: TestBackend) {
    let w = world(backend).await;
    let address = evm(7);
    let acme_record = ids(&create(
        &w.app,
        &w.acme,
        vec![address_record(&address, "clear", json!({}))],
    )
    .await)
    .remove(0);
    let sighter = sighting_client(&w.app, &w.ngo);
    let token = w.app.token(&sighter).await;
    let sightings = json!({"items": [
        // RED, for the member only: one names Acme's record, one the address.
        {"sighting_of": acme_record, "seen_at": "2026-11-01T12:00:00Z", "count": 3,
         "context": "deposit", "tlp": "red", "audience": {"organizations": ["member"]}},
        {"chain": "eth", "address": address, "seen_at": "2026-11-02T12:00:00Z", "count": 5,
         "context": "deposit", "tlp": "red", "audience": {"organizations": ["member"]}},
    ]});
    let reply = w
        .app
        .send_json(&sighter, Method::POST, "/v1/sightings", &token, sightings)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);

    // Acme, whose record the first sighting names, learns time and count of that one only.
    let acme = get(
        &w.app,
        &w.acme,
        &format!("/v1/records/{acme_record}/sightings"),
    )
    .await;
    assert_eq!(acme.status, 200, "{}", acme.body);
    assert_eq!(acme.body["sightings"], json!([]));
    assert_eq!(
        acme.body["unshared"],
        json!([{"seen_at": "2026-11-01T12:00:00Z", "count": 3}])
    );
    assert_eq!(acme.body["all_totals"]["count"], 3);

    // The late filer: another organization files its own record for the
    // address afterwards, and gets no notice of either sighting.
    let late = w.app.add_org(
        "late",
        tracewire::domain::OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let own = ids(&create(
        &w.app,
        &late,
        vec![address_record(
            &address,
            "red",
            json!({"organizations": ["ngo"]}),
        )],
    )
    .await)
    .remove(0);
    let harvested = get(&w.app, &late, &format!("/v1/records/{own}/sightings")).await;
    assert_eq!(harvested.status, 200, "{}", harvested.body);
    assert_eq!(harvested.body["sightings"], json!([]));
    assert_eq!(harvested.body["unshared"], json!([]), "{}", harvested.body);
    assert_eq!(harvested.body["all_totals"]["reports"], 0);
    // The member, who may read both, sees both and is told of nothing else.
    let member = get(
        &w.app,
        &w.member,
        &format!("/v1/records/{acme_record}/sightings"),
    )
    .await;
    assert_eq!(member.body["totals"]["count"], 8, "{}", member.body);
    assert!(member.body.get("unshared").is_none());
}

/// The reference fields of `view` (absent ones as Null).
fn references(view: &Value) -> (Value, Value, Value, Value) {
    let field = |v: &Value| v.clone();
    (
        field(&view["from"]),
        field(&view["to"]),
        field(&view["sighting"]["of"]),
        field(&view["provenance"]["derived_from"]),
    )
}

/// Ids of records a reader may not read never appear inside the ones it
/// may: relationship ends, `sighting_of` and `derived_from` are left out,
/// exactly as when there is no reference, on every path.
async fn references_to_invisible_records_are_left_out(backend: TestBackend) {
    let w = world(backend).await;
    let secret = ids(&create(
        &w.app,
        &w.acme,
        vec![json!({
            "kind": "entity", "name": "Trafficking network X", "entity_type": "criminal_group",
            "categories": ["human_trafficking"], "confidence": 90,
            "tlp": "red", "audience": {"organizations": ["ngo"]}, "method": "investigation",
        })],
    )
    .await)
    .remove(0);
    let batch = ids(&create(
        &w.app,
        &w.acme,
        vec![address_record(&evm(20), "green", json!({}))],
    )
    .await);
    let address = batch[0].clone();
    let mut derived = address_record(&evm(21), "green", json!({}));
    derived["derived_from"] = json!([secret, address]);
    let plain = address_record(&evm(22), "green", json!({}));
    let more = ids(&create(&w.app, &w.acme, vec![
        json!({"kind": "relationship", "relation": "attributed_to", "from": address, "to": secret,
               "categories": ["human_trafficking"], "confidence": 70, "tlp": "green",
               "audience": {}, "method": "investigation"}),
        derived,
        plain,
    ]).await);
    let (relationship, derived, plain) = (more[0].clone(), more[1].clone(), more[2].clone());
    let sighter = sighting_client(&w.app, &w.acme);
    let token = w.app.token(&sighter).await;
    let sighting = w
        .app
        .send_json(
            &sighter,
            Method::POST,
            "/v1/sightings",
            &token,
            json!({
                "sighting_of": secret, "seen_at": "2026-11-01T12:00:00Z", "count": 1,
                "context": "ad", "tlp": "green", "audience": {},
            }),
        )
        .await;
    let sighting = ids(&sighting).remove(0);

    // The member may read everything but the RED entity.
    let reader = &w.member;
    for (path, view, _) in every_view_of(&w.app, reader, &relationship).await {
        let (from, to, _, _) = references(&view);
        assert_eq!(from, json!(address), "{path}");
        assert!(view.get("to").is_none(), "{path}: {view}");
        assert!(!to.to_string().contains(&secret));
    }
    for (path, view, _) in every_view_of(&w.app, reader, &sighting).await {
        assert!(view["sighting"].get("of").is_none(), "{path}: {view}");
    }
    let plain_views = every_view_of(&w.app, reader, &plain).await;
    for (path, view, _) in every_view_of(&w.app, reader, &derived).await {
        assert_eq!(
            view["provenance"]["derived_from"],
            json!([address]),
            "{path}"
        );
    }
    for (_, view, _) in plain_views {
        assert_eq!(view["provenance"]["derived_from"], json!([]));
    }
    // CSV export: the same cells as for no reference.
    let token = w.app.token(reader).await;
    let (status, _, csv) = w
        .app
        .get_text(reader, "/v1/records/export?format=csv", &token)
        .await;
    assert_eq!(status, 200);
    assert!(
        !csv.contains(&secret),
        "the CSV export names the RED entity"
    );
    // Attribution from the address: the RED entity is not reached.
    let walk = get(
        &w.app,
        reader,
        &format!("/v1/records/{address}/attribution"),
    )
    .await;
    assert_eq!(walk.body["entities"], json!([]), "{}", walk.body);
    assert!(!walk.body.to_string().contains(&secret));
    // Anything the member receives about these records never names it.
    for path in [
        format!("/v1/records/{relationship}"),
        format!("/v1/records/{relationship}/revisions"),
        "/v1/changes?limit=1000".into(),
        "/v1/records?limit=1000".into(),
        format!("/v1/records/{address}/relationships"),
    ] {
        let reply = get(&w.app, reader, &path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(
            !reply.body.to_string().contains(&secret),
            "{path} names the RED entity"
        );
    }
    // The NGO, a recipient of the entity, follows every reference.
    let ngo = get(&w.app, &w.ngo, &format!("/v1/records/{relationship}")).await;
    assert_eq!(ngo.body["to"], json!(secret));
    let ngo = get(&w.app, &w.ngo, &format!("/v1/records/{sighting}")).await;
    assert_eq!(ngo.body["sighting"]["of"], json!(secret));
    let ngo = get(&w.app, &w.ngo, &format!("/v1/records/{derived}")).await;
    assert_eq!(
        ngo.body["provenance"]["derived_from"],
        json!([secret, address])
    );
}

/// The matrix: for every TLP × audience of an entity, and every reader
/// relation, a CLEAR relationship to it, a CLEAR sighting of it and a CLEAR
/// address derived from it name it exactly when the reader may read it, on
/// the record, the listing, the feed and the export alike.
async fn reference_fields_follow_the_sharing_matrix(backend: TestBackend) {
    let w = world(backend).await;
    let sighter = sighting_client(&w.app, &w.acme);
    let cases = sharing_cases();
    let entities = ids(&create(
        &w.app,
        &w.acme,
        cases
            .iter()
            .enumerate()
            .map(|(i, (tlp, audience, _))| json!({
                "kind": "entity", "name": format!("Entity {i}"), "entity_type": "criminal_group",
                "categories": ["human_trafficking"], "confidence": 50, "tlp": tlp,
                "audience": audience, "method": "investigation",
            }))
            .collect(),
    )
    .await);
    let addresses = ids(&create(
        &w.app,
        &w.acme,
        (0..cases.len())
            .map(|i| address_record(&evm(300 + i), "clear", json!({})))
            .collect(),
    )
    .await);
    let mut items = Vec::new();
    for (i, entity) in entities.iter().enumerate() {
        items.push(json!({"kind": "relationship", "relation": "attributed_to", "from": addresses[i], "to": entity,
            "confidence": 50, "tlp": "clear", "method": "investigation"}));
        let mut derived = address_record(&evm(400 + i), "clear", json!({}));
        derived["derived_from"] = json!([entity]);
        items.push(derived);
    }
    let linked = ids(&create(&w.app, &w.acme, items).await);
    let token = w.app.token(&sighter).await;
    let sightings = w.app.send_json(&sighter, Method::POST, "/v1/sightings", &token, json!({"items":
        entities.iter().map(|e| json!({"sighting_of": e, "seen_at": "2026-11-01T12:00:00Z", "count": 1,
            "context": "ad", "tlp": "clear"})).collect::<Vec<_>>()})).await;
    let sightings = ids(&sightings);

    let readers = [&w.acme, &w.ngo, &w.member, &w.exchange, &w.hub];
    for (r, reader) in readers.iter().enumerate() {
        let token = w.app.token(reader).await;
        let list = w
            .app
            .get(reader, "/v1/records?limit=1000", Some(&token))
            .await;
        let feed = w
            .app
            .get(reader, "/v1/changes?limit=1000", Some(&token))
            .await;
        let (_, _, jsonl) = w
            .app
            .get_text(reader, "/v1/records/export?format=jsonl", &token)
            .await;
        let exported: Vec<Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let find = |items: &[Value], id: &str| -> Value {
            items
                .iter()
                .find(|v| v["id"] == id)
                .cloned()
                .unwrap_or(Value::Null)
        };
        let listed = list.body["items"].as_array().unwrap().clone();
        let fed: Vec<Value> = feed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.get("record").cloned())
            .collect();
        for (i, (tlp, audience, visible)) in cases.iter().enumerate() {
            let may = visible[r];
            let what = format!("{} reading {tlp} {audience}", reader.id);
            let relationship = &linked[2 * i];
            let derived = &linked[2 * i + 1];
            let sighting = &sightings[i];
            let one = |id: &String| {
                let w = &w;
                let token = token.clone();
                let id = id.clone();
                async move {
                    w.app
                        .get(reader, &format!("/v1/records/{id}"), Some(&token))
                        .await
                        .body
                }
            };
            let views = [
                (
                    "get",
                    one(relationship).await,
                    one(sighting).await,
                    one(derived).await,
                ),
                (
                    "list",
                    find(&listed, relationship),
                    find(&listed, sighting),
                    find(&listed, derived),
                ),
                (
                    "feed",
                    find(&fed, relationship),
                    find(&fed, sighting),
                    find(&fed, derived),
                ),
                (
                    "jsonl",
                    find(&exported, relationship),
                    find(&exported, sighting),
                    find(&exported, derived),
                ),
            ];
            for (path, relationship, sighting, derived) in views {
                assert_eq!(
                    relationship.get("to").is_some(),
                    may,
                    "{what}: {path} relationship {relationship}"
                );
                assert_eq!(relationship["from"], json!(addresses[i]), "{what}: {path}");
                assert_eq!(
                    sighting["sighting"].get("of").is_some(),
                    may,
                    "{what}: {path} sighting {sighting}"
                );
                let expected = if may { json!([entities[i]]) } else { json!([]) };
                assert_eq!(
                    derived["provenance"]["derived_from"], expected,
                    "{what}: {path} derived"
                );
            }
        }
    }
}

async fn feed(app: &TestApp, org: &TestOrg, after: Option<&str>) -> Reply {
    let path = match after {
        Some(cursor) => format!("/v1/changes?limit=1000&after={cursor}"),
        None => "/v1/changes?limit=1000".into(),
    };
    get(app, org, &path).await
}

/// Cursors are opaque, fresh each time and bound to their reader: polling
/// around another organization's hidden writes gives an answer that does
/// not depend on them, and foreign or tampered cursors are refused.
async fn cursors_reveal_nothing_about_hidden_events(backend: TestBackend) {
    let w = world(backend).await;
    ids(&create(
        &w.app,
        &w.acme,
        vec![address_record(&evm(30), "green", json!({}))],
    )
    .await);
    let start = feed(&w.app, &w.exchange, None).await;
    assert_eq!(start.status, 200, "{}", start.body);
    assert_eq!(start.body["items"].as_array().unwrap().len(), 1);
    let cursor = start.body["next"].as_str().unwrap().to_owned();
    assert!(cursor.parse::<i64>().is_err(), "a plain number: {cursor}");

    // Polling twice with nothing new: a fresh cursor each time, same shape.
    let quiet = feed(&w.app, &w.exchange, Some(&cursor)).await;
    assert_eq!(quiet.body["items"], json!([]));
    let quiet_next = quiet.body["next"].as_str().unwrap().to_owned();
    assert_ne!(quiet_next, cursor);
    // Acme's RED writes for the NGO: the exchange's answer looks the same.
    ids(&create(
        &w.app,
        &w.acme,
        (31..36)
            .map(|n| address_record(&evm(n), "red", json!({"organizations": ["ngo"]})))
            .collect(),
    )
    .await);
    let hidden = feed(&w.app, &w.exchange, Some(&cursor)).await;
    assert_eq!(hidden.status, 200);
    assert_eq!(hidden.body["items"], json!([]));
    let hidden_next = hidden.body["next"].as_str().unwrap().to_owned();
    assert_eq!(hidden_next.len(), quiet_next.len());
    assert_ne!(hidden_next, quiet_next);
    for c in [&cursor, &quiet_next, &hidden_next] {
        assert!(!c.chars().all(|ch| ch.is_ascii_digit() || ch == '.'));
    }
    // Following the cursor still loses nothing.
    let visible = ids(&create(
        &w.app,
        &w.acme,
        vec![address_record(&evm(40), "green", json!({}))],
    )
    .await)
    .remove(0);
    let after = feed(&w.app, &w.exchange, Some(&hidden_next)).await;
    let shown: Vec<&Value> = after.body["items"].as_array().unwrap().iter().collect();
    assert_eq!(shown.len(), 1, "{}", after.body);
    assert_eq!(shown[0]["record_id"], json!(visible));

    // Two readers at the same position hold unrelated cursors, and neither
    // opens for the other.
    let member_next = feed(&w.app, &w.member, None).await.body["next"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(member_next, hidden_next);
    feed(&w.app, &w.member, Some(&hidden_next))
        .await
        .assert_problem(400, "bad-request");
    feed(&w.app, &w.exchange, Some(&member_next))
        .await
        .assert_problem(400, "bad-request");
    // Event cursors are sealed too, per reader.
    let ngo_feed = feed(&w.app, &w.ngo, None).await;
    let ngo_event = ngo_feed.body["items"][0]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let exchange_event = feed(&w.app, &w.exchange, None).await.body["items"][0]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(ngo_event, exchange_event);
    // Plain numbers, tampered and junk cursors are refused.
    let mut tampered: Vec<char> = hidden_next.chars().collect();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    for bad in ["0", "5", "12.3", tampered.as_str(), "not-a-cursor"] {
        feed(&w.app, &w.exchange, Some(bad))
            .await
            .assert_problem(400, "bad-request");
    }

    // TAXII's `next` is sealed the same way.
    let page = taxii(
        &w.app,
        &w.exchange,
        &format!("{COLLECTION}/objects/?limit=1"),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let next = page.body["next"].as_str().unwrap().to_owned();
    assert!(!next.contains('.'), "{next}");
    let foreign = format!("{COLLECTION}/objects/?next={next}");
    assert_eq!(taxii(&w.app, &w.member, &foreign).await.status, 400);
    let own = taxii(&w.app, &w.exchange, &foreign).await;
    assert_eq!(own.status, 200, "{}", own.body);
}

/// The matrix for cursors: for every TLP × audience and every reader
/// relation, a write the reader may not see leaves its next poll exactly as
/// an idle one (no items, a fresh cursor of the same length); one it may
/// see arrives.
async fn cursors_follow_the_sharing_matrix(backend: TestBackend) {
    let w = world(backend).await;
    let readers = [&w.acme, &w.ngo, &w.member, &w.exchange, &w.hub];
    for (i, (tlp, audience, visible)) in sharing_cases().into_iter().enumerate() {
        let mut before = Vec::new();
        for reader in readers {
            let page = feed(&w.app, reader, None).await;
            before.push(page.body["next"].as_str().unwrap().to_owned());
        }
        let id = ids(&create(
            &w.app,
            &w.acme,
            vec![address_record(&evm(600 + i), tlp, audience.clone())],
        )
        .await)
        .remove(0);
        for (r, reader) in readers.iter().enumerate() {
            let page = feed(&w.app, reader, Some(&before[r])).await;
            assert_eq!(page.status, 200, "{}", page.body);
            let items = page.body["items"].as_array().unwrap();
            let next = page.body["next"].as_str().unwrap();
            assert_eq!(
                next.len(),
                before[r].len(),
                "{} {tlp} {audience}",
                reader.id
            );
            assert_ne!(next, before[r]);
            if visible[r] {
                assert_eq!(items.len(), 1, "{} {tlp} {audience}", reader.id);
                assert_eq!(items[0]["record_id"], json!(id));
            } else {
                assert_eq!(
                    items.len(),
                    0,
                    "{} sees a hidden write: {tlp} {audience}",
                    reader.id
                );
            }
        }
    }
}

/// After GREEN → RED, a former reader loses the record on every path; after
/// RED → GREEN, a new reader sees a history that starts at the revision it
/// could read: revision 1, created then.
async fn narrowed_and_widened_histories(backend: TestBackend) {
    let w = world(backend).await;
    let narrowed = ids(&create(
        &w.app,
        &w.acme,
        vec![address_record(&evm(50), "green", json!({}))],
    )
    .await)
    .remove(0);
    let widened = ids(&create(
        &w.app,
        &w.acme,
        vec![address_record(
            &evm(51),
            "red",
            json!({"organizations": ["ngo"]}),
        )],
    )
    .await)
    .remove(0);
    let before = get(&w.app, &w.exchange, &format!("/v1/records/{narrowed}")).await;
    assert_eq!(before.status, 200);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let reply = put(
        &w.app,
        &w.acme,
        &format!("/v1/records/{narrowed}"),
        address_record(&evm(50), "red", json!({"organizations": ["ngo"]})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = put(
        &w.app,
        &w.acme,
        &format!("/v1/records/{widened}"),
        address_record(&evm(51), "green", json!({})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let widened_at = reply.body["updated_at"].as_str().unwrap().to_owned();

    let exchange = &w.exchange;
    get(&w.app, exchange, &format!("/v1/records/{narrowed}"))
        .await
        .assert_problem(404, "not-found");
    get(
        &w.app,
        exchange,
        &format!("/v1/records/{narrowed}/revisions"),
    )
    .await
    .assert_problem(404, "not-found");
    let all = feed(&w.app, exchange, None).await;
    let text = all.body.to_string();
    assert!(
        !text.contains(&narrowed),
        "the feed still shows the narrowed record"
    );
    let object = taxii(
        &w.app,
        exchange,
        &format!(
            "{COLLECTION}/objects/{}/",
            tracewire::stix::object_id("indicator", &narrowed)
        ),
    )
    .await;
    assert_eq!(
        object.status, 404,
        "TAXII still serves the narrowed record: {}",
        object.body
    );
    let manifest = taxii(
        &w.app,
        exchange,
        &format!("{COLLECTION}/manifest/?limit=1000"),
    )
    .await;
    assert_eq!(manifest.status, 200);
    assert!(!manifest
        .body
        .to_string()
        .contains(&tracewire::stix::object_id("indicator", &narrowed)));

    let one = get(&w.app, exchange, &format!("/v1/records/{widened}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["revision"], 1, "{}", one.body);
    assert_eq!(one.body["created_at"].as_str().unwrap(), widened_at);
    assert_eq!(one.body["updated_at"].as_str().unwrap(), widened_at);
    let revisions = get(
        &w.app,
        exchange,
        &format!("/v1/records/{widened}/revisions"),
    )
    .await;
    let revisions = revisions.body.as_array().unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0]["revision"], 1);
    assert_eq!(revisions[0]["received_at"].as_str().unwrap(), widened_at);
    // The audit log keeps the real revision the exchange read.
    let audited: Vec<String> = {
        use diesel::prelude::*;
        use tracewire::storage::schema::audit_log;
        let mut conn = w.app.db.get().unwrap();
        audit_log::table
            .filter(audit_log::action.eq("records.revisions"))
            .filter(audit_log::organization.eq("exchange"))
            .select(audit_log::record_ids)
            .load(&mut *conn)
            .unwrap()
    };
    assert_eq!(audited.last().unwrap(), &format!("[\"{widened}@2\"]"));
    let events: Vec<&Value> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["record_id"] == json!(widened))
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["revision"], 1);
    assert_eq!(events[0]["at"].as_str().unwrap(), widened_at);
    let object = taxii(
        &w.app,
        exchange,
        &format!(
            "{COLLECTION}/objects/{}/?match%5Bversion%5D=all",
            tracewire::stix::object_id("indicator", &widened)
        ),
    )
    .await;
    assert_eq!(object.status, 200, "{}", object.body);
    let objects = object.body["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1, "{}", object.body);
    assert_eq!(objects[0]["created"], objects[0]["modified"]);
    // The NGO read both revisions and sees both, numbered as stored.
    let ngo = get(&w.app, &w.ngo, &format!("/v1/records/{widened}/revisions")).await;
    assert_eq!(ngo.body.as_array().unwrap().len(), 2);
    assert_eq!(ngo.body[1]["revision"], 2);
    // Every timestamp carries its offset.
    for stamp in [
        &one.body["created_at"],
        &one.body["updated_at"],
        &events[0]["at"],
    ] {
        assert!(stamp.as_str().unwrap().ends_with('Z'), "{stamp}");
    }
}

crate::on_both_backends!(
    content_hashes_resist_brute_force,
    sighting_notices_reach_only_the_named_record_source,
    references_to_invisible_records_are_left_out,
    reference_fields_follow_the_sharing_matrix,
    cursors_reveal_nothing_about_hidden_events,
    cursors_follow_the_sharing_matrix,
    narrowed_and_widened_histories,
);

//! TAXII 2.1: endpoints, media types, headers, paging, TAXII error bodies,
//! adding objects, and the sharing rules on every TAXII read path.
use crate::helpers::{read_json, Reply, TestApp, TestBackend, TestOrg};
use crate::records::{address_record, create, evm, sharing_cases, world};
use awc::http::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub const TAXII: &str = "application/taxii+json;version=2.1";
pub const INTEL: &str = "/taxii2/api/collections/5f2e9c1a-7b3d-4e8f-a6c2-91d0b4e7f3a8";
const CLEAR: &str = "/taxii2/api/collections/b8c4d2e6-1f3a-4c5b-9e7d-0a2f6c8e4b19";

pub async fn taxii_get(app: &TestApp, org: &TestOrg, token: &str, path: &str) -> Reply {
    taxii_get_with(app, org, token, path, Some(TAXII)).await
}

async fn taxii_get_with(
    app: &TestApp,
    org: &TestOrg,
    token: &str,
    path: &str,
    accept: Option<&str>,
) -> Reply {
    let mut request = app
        .client(Some(&org.certificate))
        .get(app.url(path))
        .bearer_auth(token);
    if let Some(accept) = accept {
        request = request.insert_header(("Accept", accept));
    }
    Reply::from(read_json(request.send().await).await.unwrap())
}

pub async fn taxii_post(
    app: &TestApp,
    org: &TestOrg,
    token: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Reply {
    let request = app
        .client(Some(&org.certificate))
        .post(app.url(path))
        .bearer_auth(token)
        .insert_header(("Accept", TAXII))
        .insert_header(("Content-Type", content_type));
    Reply::from(
        read_json(request.send_body(body.to_owned()).await)
            .await
            .unwrap(),
    )
}

fn content_type(reply: &Reply) -> &str {
    reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A TAXII error message with the TAXII media type.
fn assert_taxii_error(reply: &Reply, status: u16) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(content_type(reply), TAXII, "{}", reply.body);
    assert_eq!(
        reply.body["http_status"],
        status.to_string(),
        "{}",
        reply.body
    );
    assert!(reply.body["title"].is_string(), "{}", reply.body);
}

/// Every object of a collection (all versions), following `next`, `limit` at a time.
pub async fn all_objects(
    app: &TestApp,
    org: &TestOrg,
    token: &str,
    collection: &str,
    limit: usize,
) -> Vec<Value> {
    let mut objects = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..1000 {
        let mut path = format!("{collection}/objects/?match[version]=all&limit={limit}");
        if let Some(next) = &next {
            path.push_str(&format!("&next={next}"));
        }
        let page = taxii_get(app, org, token, &path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(content_type(&page), TAXII);
        let items = page.body["objects"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= limit);
        assert_envelope_is_tidy(&items);
        objects.extend(items);
        if page.body["more"] != true {
            return objects;
        }
        next = Some(page.body["next"].as_str().unwrap().to_owned());
    }
    panic!("paging did not end");
}

/// One page of objects: each object (each version of it) once, and the TLP
/// markings served exactly those the page's objects reference, each before
/// its first use.
pub fn assert_envelope_is_tidy(objects: &[Value]) {
    let mut seen = BTreeSet::new();
    let mut markings = BTreeSet::new();
    let mut used = BTreeSet::new();
    for object in objects {
        let key = (
            object["id"].as_str().unwrap().to_owned(),
            object["modified"].as_str().unwrap_or_default().to_owned(),
        );
        assert!(seen.insert(key.clone()), "{key:?} twice on one page");
        if object["type"] == "marking-definition" {
            markings.insert(key.0.clone());
        }
        for marking in object["object_marking_refs"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let marking = marking.as_str().unwrap().to_owned();
            assert!(
                markings.contains(&marking),
                "{marking} used before it is served"
            );
            used.insert(marking);
        }
    }
    assert_eq!(markings, used, "markings served that no object uses");
}

/// The objects in order, each (id, version) at its first occurrence only.
fn first_occurrences(objects: &[Value]) -> Vec<Value> {
    let mut seen = BTreeSet::new();
    objects
        .iter()
        .filter(|o| seen.insert((o["id"].to_string(), o["modified"].to_string())))
        .cloned()
        .collect()
}

const EXTENSION: &str = "extension-definition--3c1e7a52-9b4d-4f6e-8a10-5d2c9e7b4f31";

/// `record_id@revision` of every object that stands for a record.
fn record_versions(objects: &[Value]) -> BTreeSet<String> {
    objects
        .iter()
        .filter_map(|o| {
            let extension = &o["extensions"][EXTENSION];
            Some(format!(
                "{}@{}",
                extension["record_id"].as_str()?,
                extension["revision"]
            ))
        })
        .collect()
}

fn record_ids(objects: &[Value]) -> BTreeSet<String> {
    record_versions(objects)
        .into_iter()
        .map(|v| v.split('@').next().unwrap().to_owned())
        .collect()
}

fn created_ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The STIX id of an address record's indicator.
fn indicator_id(record_id: &str) -> String {
    tracewire::stix::object_id("indicator", record_id)
}

/// Discovery, API root, collections, objects, object, versions, manifest,
/// status; media types, headers, paging and TAXII errors.
async fn taxii_endpoints_answer_as_the_specification_says(backend: TestBackend) {
    let w = world(backend).await;
    let items: Vec<Value> = (0..5)
        .map(|i| address_record(&evm(i), "green", json!({})))
        .collect();
    let ids = created_ids(&create(&w.app, &w.acme, items).await);
    let token = w.app.token(&w.acme).await;

    let discovery = taxii_get(&w.app, &w.acme, &token, "/taxii2/").await;
    assert_eq!(discovery.status, 200, "{}", discovery.body);
    assert_eq!(content_type(&discovery), TAXII);
    let root = discovery.body["default"].as_str().unwrap();
    assert!(root.ends_with("/taxii2/api/"), "{root}");
    assert_eq!(discovery.body["api_roots"], json!([root]));

    let api_root = taxii_get(&w.app, &w.acme, &token, "/taxii2/api/").await;
    assert_eq!(api_root.body["versions"], json!([TAXII]));
    assert!(api_root.body["max_content_length"].as_u64().unwrap() > 0);
    assert_taxii_error(
        &taxii_get(&w.app, &w.acme, &token, "/taxii2/nope/").await,
        404,
    );

    // Content negotiation: the TAXII media type or 406, as a TAXII error.
    for accept in [
        None,
        Some("application/json"),
        Some("application/taxii+json;version=2.0"),
    ] {
        let refused = taxii_get_with(&w.app, &w.acme, &token, "/taxii2/", accept).await;
        assert_taxii_error(&refused, 406);
    }
    // Authentication failures are TAXII errors too.
    let anonymous = w
        .app
        .client(Some(&w.acme.certificate))
        .get(w.app.url("/taxii2/"))
        .insert_header(("Accept", TAXII))
        .send()
        .await;
    assert_taxii_error(&Reply::from(read_json(anonymous).await.unwrap()), 401);

    let collections = taxii_get(&w.app, &w.acme, &token, "/taxii2/api/collections/").await;
    let list = collections.body["collections"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{}", collections.body);
    assert_eq!(list[0]["can_write"], true);
    assert_eq!(list[1]["can_write"], false);
    let exchange_token = w.app.token(&w.exchange).await;
    let theirs = taxii_get(&w.app, &w.exchange, &exchange_token, &format!("{INTEL}/")).await;
    assert_eq!(theirs.body["can_read"], true);
    assert_eq!(
        theirs.body["can_write"], false,
        "exchange has no write scope"
    );
    assert_taxii_error(
        &taxii_get(&w.app, &w.acme, &token, "/taxii2/api/collections/nope/").await,
        404,
    );
    assert_taxii_error(
        &taxii_get(
            &w.app,
            &w.acme,
            &token,
            "/taxii2/api/collections/nope/objects/",
        )
        .await,
        404,
    );

    // Bad query values: 400, never a 500.
    for query in [
        "limit=0",
        "limit=-3",
        "limit=many",
        "added_after=yesterday",
        "next=abc",
        "match[version]=newest",
    ] {
        let reply = taxii_get(
            &w.app,
            &w.acme,
            &token,
            &format!("{INTEL}/objects/?{query}"),
        )
        .await;
        assert_taxii_error(&reply, 400);
    }

    // Objects: the fixed objects, then an indicator and an observable per address.
    let page = taxii_get(&w.app, &w.acme, &token, &format!("{INTEL}/objects/")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["more"], false);
    let objects = page.body["objects"].as_array().unwrap();
    let first = page.headers.get("x-taxii-date-added-first").unwrap();
    let last = page.headers.get("x-taxii-date-added-last").unwrap();
    assert!(first.to_str().unwrap() <= last.to_str().unwrap());
    assert_eq!(record_ids(objects), ids.iter().cloned().collect());
    let types: BTreeSet<&str> = objects
        .iter()
        .map(|o| o["type"].as_str().unwrap())
        .collect();
    for expected in [
        "identity",
        "extension-definition",
        "marking-definition",
        "indicator",
        "cryptocurrency-wallet",
    ] {
        assert!(types.contains(expected), "{types:?}");
    }
    let indicator = objects
        .iter()
        .find(|o| o["id"] == indicator_id(&ids[0]))
        .unwrap();
    assert_eq!(
        indicator["pattern"],
        format!("[cryptocurrency-wallet:value = '{}']", evm(0))
    );
    assert_eq!(
        indicator["object_marking_refs"],
        json!(["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"])
    );
    assert_eq!(
        indicator["created_by_ref"],
        tracewire::stix::organization_identity_id("acme")
    );

    assert_envelope_is_tidy(objects);
    // An address is an indicator, its observable and the based-on link between them.
    let observable = objects
        .iter()
        .find(|o| o["type"] == "cryptocurrency-wallet" && o["value"] == evm(0))
        .unwrap();
    assert!(
        objects.iter().any(|o| o["relationship_type"] == "based-on"
            && o["source_ref"] == indicator["id"]
            && o["target_ref"] == observable["id"]),
        "based-on"
    );

    // Paging with small pages gives the same objects, in the same order
    // (each page serving the identities and markings its objects need).
    let paged = all_objects(&w.app, &w.acme, &token, INTEL, 3).await;
    let whole = all_objects(&w.app, &w.acme, &token, INTEL, 1000).await;
    assert_eq!(first_occurrences(&paged), whole);
    assert!(paged.len() > 10);

    // added_after: nothing is newer than the last object.
    let after = last.to_str().unwrap();
    let newer = taxii_get(
        &w.app,
        &w.acme,
        &token,
        &format!("{INTEL}/objects/?added_after={after}"),
    )
    .await;
    assert_eq!(newer.status, 200, "{}", newer.body);
    assert_eq!(newer.body["more"], false);
    assert!(newer.body.get("objects").is_none(), "{}", newer.body);
    assert!(newer.headers.get("x-taxii-date-added-first").is_none());

    // match[type] and match[id].
    let indicators = taxii_get(
        &w.app,
        &w.acme,
        &token,
        &format!("{INTEL}/objects/?match[type]=indicator"),
    )
    .await;
    assert_eq!(indicators.body["objects"].as_array().unwrap().len(), 5);
    let one = taxii_get(
        &w.app,
        &w.acme,
        &token,
        &format!("{INTEL}/objects/?match[id]={}", indicator_id(&ids[1])),
    )
    .await;
    assert_eq!(one.body["objects"].as_array().unwrap().len(), 1);

    // A revision is a new version of the same object.
    let mut update = address_record(&evm(0), "green", json!({}));
    update["description"] = json!("second revision");
    let updated = w
        .app
        .send_json(
            &w.acme,
            Method::PUT,
            &format!("/v1/records/{}", ids[0]),
            &token,
            update,
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let object_path = format!("{INTEL}/objects/{}/", indicator_id(&ids[0]));
    let latest = taxii_get(&w.app, &w.acme, &token, &object_path).await;
    assert_eq!(latest.status, 200, "{}", latest.body);
    let latest_objects = latest.body["objects"].as_array().unwrap();
    assert_eq!(latest_objects.len(), 1);
    assert_eq!(latest_objects[0]["description"], "second revision");
    let every = taxii_get(
        &w.app,
        &w.acme,
        &token,
        &format!("{object_path}?match[version]=all"),
    )
    .await;
    let versions_of: Vec<&Value> = every.body["objects"].as_array().unwrap().iter().collect();
    assert_eq!(versions_of.len(), 2);
    assert_eq!(versions_of[0]["created"], versions_of[1]["created"]);
    assert!(versions_of[0]["modified"].as_str() < versions_of[1]["modified"].as_str());
    let first_only = taxii_get(
        &w.app,
        &w.acme,
        &token,
        &format!("{object_path}?match[version]=first"),
    )
    .await;
    assert_eq!(
        first_only.body["objects"][0]["modified"],
        versions_of[0]["modified"]
    );
    let versions = taxii_get(&w.app, &w.acme, &token, &format!("{object_path}versions/")).await;
    assert_eq!(versions.status, 200, "{}", versions.body);
    assert_eq!(
        versions.body["versions"],
        json!([versions_of[0]["modified"], versions_of[1]["modified"]])
    );
    assert_taxii_error(
        &taxii_get(
            &w.app,
            &w.acme,
            &token,
            &format!("{INTEL}/objects/indicator--00000000-0000-4000-8000-000000000000/"),
        )
        .await,
        404,
    );
    // Fixed objects are served by id too.
    let marking = taxii_get(
        &w.app,
        &w.acme,
        &token,
        &format!("{INTEL}/objects/marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1/"),
    )
    .await;
    assert_eq!(
        marking.body["objects"][0]["name"], "TLP:RED",
        "{}",
        marking.body
    );

    let manifest = taxii_get(&w.app, &w.acme, &token, &format!("{INTEL}/manifest/")).await;
    assert_eq!(manifest.status, 200, "{}", manifest.body);
    let entries = manifest.body["objects"].as_array().unwrap();
    assert!(entries
        .iter()
        .all(|e| e["media_type"] == "application/stix+json;version=2.1"
            && e["date_added"].is_string()
            && e["version"].is_string()));
    assert!(manifest.headers.get("x-taxii-date-added-last").is_some());
}

/// Adding objects: media types, malformed envelopes refused whole, every
/// object reported in the status, statuses readable by the poster only.
async fn adding_objects_reports_every_object(backend: TestBackend) {
    let w = world(backend).await;
    let token = w.app.token(&w.acme).await;
    let objects_path = format!("{INTEL}/objects/");
    let count = |app: &TestApp| {
        let mut conn = app.db.get().unwrap();
        tracewire::storage::records::count(
            &mut conn,
            &tracewire::access::Reader {
                organization: tracewire::domain::OrganizationId::parse("acme").unwrap(),
                communities: vec![],
            },
            &Default::default(),
        )
        .unwrap()
    };

    let envelope = json!({ "objects": [
        { "type": "indicator", "spec_version": "2.1", "id": "indicator--6f0a4c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
          "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
          "pattern": format!("[cryptocurrency-wallet:value = '{}']", evm(7)), "pattern_type": "stix",
          "valid_from": "2026-11-20T10:00:00.000Z", "confidence": 70, "labels": ["scam"],
          "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"] },
        { "type": "threat-actor", "spec_version": "2.1", "id": "threat-actor--9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
          "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z", "name": "Crew",
          "object_marking_refs": ["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"] },
        { "type": "relationship", "spec_version": "2.1", "id": "relationship--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
          "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
          "relationship_type": "attributed-to",
          "source_ref": "indicator--6f0a4c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
          "target_ref": "threat-actor--9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d" },
        { "type": "indicator", "spec_version": "2.1", "id": "indicator--7f0a4c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
          "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
          "pattern": "[cryptocurrency-wallet:value = 'not-an-address']", "pattern_type": "stix",
          "valid_from": "2026-11-20T10:00:00.000Z" },
        { "type": "malware", "spec_version": "2.1", "id": "malware--2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
          "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
          "name": "kit", "is_family": true },
        { "type": "marking-definition", "spec_version": "2.1",
          "id": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "created": "2022-10-01T00:00:00.000Z" }
    ]});
    let body = envelope.to_string();

    // Wrong media type, malformed envelopes, no write scope: refused whole.
    let wrong = taxii_post(
        &w.app,
        &w.acme,
        &token,
        &objects_path,
        "application/json",
        &body,
    )
    .await;
    assert_taxii_error(&wrong, 415);
    for bad in [
        "not json",
        "[]",
        "{\"objects\": 3}",
        "{\"objects\": []}",
        "{\"objects\": [{\"type\": \"indicator\"}]}",
    ] {
        let refused = taxii_post(&w.app, &w.acme, &token, &objects_path, TAXII, bad).await;
        assert_taxii_error(&refused, 400);
    }
    let exchange_token = w.app.token(&w.exchange).await;
    let no_scope = taxii_post(
        &w.app,
        &w.exchange,
        &exchange_token,
        &objects_path,
        TAXII,
        &body,
    )
    .await;
    assert_taxii_error(&no_scope, 403);
    let read_only = taxii_post(
        &w.app,
        &w.acme,
        &token,
        &format!("{CLEAR}/objects/"),
        TAXII,
        &body,
    )
    .await;
    assert_taxii_error(&read_only, 403);
    assert_eq!(count(&w.app), 0, "nothing was written");

    let added = taxii_post(&w.app, &w.acme, &token, &objects_path, TAXII, &body).await;
    assert_eq!(added.status, 202, "{}", added.body);
    assert_eq!(content_type(&added), TAXII);
    let status = &added.body;
    assert_eq!(status["status"], "complete");
    assert_eq!(status["total_count"], 6);
    assert_eq!(status["success_count"], 4, "{status}");
    assert_eq!(status["failure_count"], 2, "{status}");
    let failed: BTreeSet<&str> = status["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        BTreeSet::from([
            "indicator--7f0a4c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
            "malware--2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"
        ])
    );
    assert_eq!(count(&w.app), 3, "address, entity, relationship");

    // Imported records: provenance import, the STIX id as source reference,
    // the TLP of the marking; RED ones readable by the importer only.
    let list = w
        .app
        .get(&w.acme, "/v1/records?limit=100", Some(&token))
        .await;
    let records = list.body["items"].as_array().unwrap();
    assert!(records
        .iter()
        .all(|r| r["provenance"]["method"] == "import"));
    let actor = records.iter().find(|r| r["kind"] == "entity").unwrap();
    assert_eq!(actor["tlp"], "red");
    assert_eq!(actor["audience"]["organizations"], json!(["acme"]));
    assert_eq!(
        actor["provenance"]["source_reference"],
        "threat-actor--9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    );
    let relationship = records
        .iter()
        .find(|r| r["kind"] == "relationship")
        .unwrap();
    assert_eq!(
        relationship["tlp"], "red",
        "unmarked objects are kept as RED"
    );
    let ngo_token = w.app.token(&w.ngo).await;
    let ngo_sees = w
        .app
        .get(&w.ngo, "/v1/records?limit=100", Some(&ngo_token))
        .await;
    assert_eq!(
        ngo_sees.body["items"].as_array().unwrap().len(),
        1,
        "only the GREEN address"
    );

    // The status, again, for the poster only.
    let status_path = format!("/taxii2/api/status/{}/", status["id"].as_str().unwrap());
    let again = taxii_get(&w.app, &w.acme, &token, &status_path).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(&again.body, status);
    assert_taxii_error(
        &taxii_get(&w.app, &w.ngo, &ngo_token, &status_path).await,
        404,
    );

    // Posting our own objects back links to the existing records.
    let served = all_objects(&w.app, &w.acme, &token, INTEL, 1000).await;
    let relationship_back = json!({ "objects": [{
        "type": "relationship", "spec_version": "2.1", "id": "relationship--3a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
        "relationship_type": "attributed-to",
        "source_ref": served.iter().find(|o| o["type"] == "indicator").unwrap()["id"],
        "target_ref": served.iter().find(|o| o["type"] == "threat-actor").unwrap()["id"],
        "object_marking_refs": ["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"] }]});
    let linked = taxii_post(
        &w.app,
        &w.acme,
        &token,
        &objects_path,
        TAXII,
        &relationship_back.to_string(),
    )
    .await;
    assert_eq!(linked.body["success_count"], 1, "{}", linked.body);

    // Every TAXII read and write is in the audit log, and the chain holds.
    let actions: BTreeSet<String> = {
        use diesel::prelude::*;
        use tracewire::storage::schema::audit_log;
        let mut conn = w.app.db.get().unwrap();
        audit_log::table
            .select(audit_log::action)
            .load::<String>(&mut *conn)
            .unwrap()
            .into_iter()
            .collect()
    };
    for action in [
        "taxii.objects.add",
        "taxii.status",
        "taxii.objects",
        "records.create",
    ] {
        assert!(actions.contains(action), "{action} in {actions:?}");
    }
    let mut conn = w.app.db.get().unwrap();
    assert!(matches!(
        tracewire::audit::verify(&mut conn).unwrap(),
        tracewire::audit::Verification::Intact { .. }
    ));
}

/// Every TLP × audience, read through every TAXII path by the source, a
/// named recipient, a community member, another partner and the hub admin:
/// each sees exactly what `/v1` shows it, revision by revision.
async fn red_never_leaks_through_taxii(backend: TestBackend) {
    let w = world(backend).await;
    let cases = sharing_cases();
    let mut items: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (tlp, audience, _))| address_record(&evm(i), tlp, audience.clone()))
        .collect();
    // An anonymous GREEN record and a RED entity with a RED attribution.
    let mut anonymous = address_record(&evm(50), "green", json!({}));
    anonymous["attribution"] = json!("anonymous");
    items.push(anonymous);
    items.push(json!({ "kind": "entity", "name": "Lotus", "entity_type": "trafficking_network",
        "confidence": 80, "tlp": "red", "audience": {"organizations": ["ngo"]}, "method": "investigation" }));
    let ids = created_ids(&create(&w.app, &w.acme, items).await);
    let token = w.app.token(&w.acme).await;
    let (clear_address, red_address, entity) = (&ids[0], &ids[6], &ids[8]);
    let attribution = created_ids(
        &create(
            &w.app,
            &w.acme,
            vec![
                json!({ "kind": "relationship", "relation": "attributed_to", "from": clear_address, "to": entity,
                "confidence": 80, "tlp": "red", "audience": {"organizations": ["ngo"]}, "method": "investigation" }),
            ],
        )
        .await,
    );
    // A GREEN record narrowed to RED for ngo: its first revision stays visible
    // to all, the second only to ngo. An AMBER one widened to GREEN: the
    // other way round.
    let narrowed = created_ids(
        &create(
            &w.app,
            &w.acme,
            vec![address_record(&evm(60), "green", json!({}))],
        )
        .await,
    )
    .remove(0);
    let widened = created_ids(
        &create(
            &w.app,
            &w.acme,
            vec![address_record(
                &evm(61),
                "amber",
                json!({"organizations": ["ngo"]}),
            )],
        )
        .await,
    )
    .remove(0);
    for (id, record) in [
        (
            &narrowed,
            address_record(&evm(60), "red", json!({"organizations": ["ngo"]})),
        ),
        (&widened, address_record(&evm(61), "green", json!({}))),
    ] {
        let reply = w
            .app
            .send_json(
                &w.acme,
                Method::PUT,
                &format!("/v1/records/{id}"),
                &token,
                record,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    let readers = [&w.acme, &w.ngo, &w.member, &w.exchange, &w.hub];
    for (index, reader) in readers.iter().enumerate() {
        let token = w.app.token(reader).await;
        let mut expected: BTreeSet<String> = BTreeSet::new();
        for (case, id) in cases.iter().zip(&ids) {
            if case.2[index] {
                expected.insert(format!("{id}@1"));
            }
        }
        expected.insert(format!("{}@1", ids[7])); // anonymous GREEN
        let named = reader.id == "acme" || reader.id == "ngo";
        if named {
            expected.insert(format!("{entity}@1"));
            expected.insert(format!("{}@1", attribution[0]));
            // The recipients read both revisions of both records.
            expected.insert(format!("{narrowed}@1"));
            expected.insert(format!("{narrowed}@2"));
            expected.insert(format!("{widened}@1"));
            expected.insert(format!("{widened}@2"));
        } else {
            // The narrowed record is gone for the others, history and all;
            // the widened one starts, for them, at the revision they may
            // read, numbered 1.
            expected.insert(format!("{widened}@1"));
        }

        let objects = all_objects(&w.app, reader, &token, INTEL, 4).await;
        assert_eq!(
            record_versions(&objects),
            expected,
            "{} through objects",
            reader.id
        );

        let manifest = taxii_get(
            &w.app,
            reader,
            &token,
            &format!("{INTEL}/manifest/?match[version]=all&limit=1000"),
        )
        .await;
        let manifest_ids: BTreeSet<String> = manifest.body["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        let object_ids: BTreeSet<String> = objects
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            manifest_ids, object_ids,
            "{} through the manifest",
            reader.id
        );

        // Object by id and versions: 404 exactly when nothing is visible.
        for (case, id) in cases.iter().zip(&ids) {
            for path in [
                format!("{INTEL}/objects/{}/", indicator_id(id)),
                format!("{INTEL}/objects/{}/versions/", indicator_id(id)),
            ] {
                let reply = taxii_get(&w.app, reader, &token, &path).await;
                if case.2[index] {
                    assert_eq!(reply.status, 200, "{} {path}: {}", reader.id, reply.body);
                } else {
                    assert_taxii_error(&reply, 404);
                }
            }
        }
        let red_path = format!(
            "{INTEL}/objects/{}/?match[version]=all",
            indicator_id(red_address)
        );
        let red = taxii_get(&w.app, reader, &token, &red_path).await;
        assert_eq!(
            red.status == 200,
            named,
            "{} reading the RED record",
            reader.id
        );
        let narrowed_versions = taxii_get(
            &w.app,
            reader,
            &token,
            &format!("{INTEL}/objects/{}/versions/", indicator_id(&narrowed)),
        )
        .await;
        if named {
            assert_eq!(
                narrowed_versions.body["versions"].as_array().map(Vec::len),
                Some(2),
                "{}: {}",
                reader.id,
                narrowed_versions.body
            );
        } else {
            assert_taxii_error(&narrowed_versions, 404);
        }

        // The anonymous record names no source to anyone but its source.
        let anonymous = objects
            .iter()
            .find(|o| o["id"] == indicator_id(&ids[7]))
            .unwrap();
        assert!(anonymous.get("created_by_ref").is_none(), "{}", reader.id);
        // The relationship appears only where its ends are visible.
        let relationships = objects
            .iter()
            .filter(|o| o["type"] == "relationship" && o["relationship_type"] != "based-on")
            .count();
        assert_eq!(relationships, usize::from(named), "{}", reader.id);
        if named {
            let actor = objects
                .iter()
                .find(|o| o["type"] == "threat-actor")
                .unwrap();
            assert_eq!(actor["name"], "Lotus");
        }

        // The CLEAR collection: CLEAR revisions only.
        let clear = all_objects(&w.app, reader, &token, CLEAR, 1000).await;
        assert_eq!(
            record_ids(&clear),
            BTreeSet::from([clear_address.clone()]),
            "{}",
            reader.id
        );
    }
}

/// Sightings are `sighting` objects of what was seen, under their own
/// sharing; the sighter is `where_sighted_refs` only when named. STIX
/// sightings POSTed in need the sightings:write scope.
async fn sightings_are_sighting_objects(backend: TestBackend) {
    let w = world(backend).await;
    let all = "indicators:read indicators:write sightings:write";
    let watch = w
        .app
        .add_org("watch", tracewire::domain::OrganizationType::Exchange, all);
    let ids = created_ids(
        &create(
            &w.app,
            &w.acme,
            vec![address_record(&evm(0), "green", json!({}))],
        )
        .await,
    );
    let seen = |extra: Value| {
        let mut sighting =
            json!({ "seen_at": "2026-11-01T12:00:00Z", "count": 3, "context": "deposit" });
        for (k, v) in extra.as_object().unwrap() {
            sighting[k] = v.clone();
        }
        sighting
    };
    let items = vec![
        seen(
            json!({ "sighting_of": ids[0], "tlp": "amber", "audience": {"organizations": ["acme"]} }),
        ),
        seen(
            json!({ "chain": "eth", "address": evm(1), "tlp": "red", "audience": {"organizations": ["ngo"]} }),
        ),
        seen(json!({ "sighting_of": ids[0], "tlp": "green", "attribution": "anonymous" })),
    ];
    let watch_token = w.app.token(&watch).await;
    let reported = w
        .app
        .send_json(
            &watch,
            Method::POST,
            "/v1/sightings",
            &watch_token,
            json!({ "items": items }),
        )
        .await;
    let sightings = created_ids(&reported);

    let sighting_objects = |objects: &[Value]| -> Vec<Value> {
        objects
            .iter()
            .filter(|o| o["type"] == "sighting")
            .cloned()
            .collect()
    };
    // (reader, sightings it may see)
    for (reader, visible) in [
        (&w.acme, vec![0, 2]),
        (&w.ngo, vec![1, 2]),
        (&w.exchange, vec![2]),
    ] {
        let token = w.app.token(reader).await;
        let objects = all_objects(&w.app, reader, &token, INTEL, 1000).await;
        let shown = sighting_objects(&objects);
        let expected: BTreeSet<String> = visible
            .iter()
            .map(|i| tracewire::stix::object_id("sighting", &sightings[*i]))
            .collect();
        let got: BTreeSet<String> = shown
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, expected, "{}", reader.id);
        for object in &shown {
            assert_eq!(object["count"], 3);
            assert_eq!(object["first_seen"], "2026-11-01T12:00:00.000000Z");
            let named = object["id"] != tracewire::stix::object_id("sighting", &sightings[2]);
            assert_eq!(
                object.get("where_sighted_refs").is_some(),
                named,
                "{object}"
            );
            if named {
                assert_eq!(
                    object["where_sighted_refs"],
                    json!([tracewire::stix::organization_identity_id("watch")])
                );
            }
            let of = object["sighting_of_ref"].as_str().unwrap();
            assert!(
                objects.iter().any(|o| o["id"] == of),
                "{}: the sighted object is served too",
                reader.id
            );
        }
        if reader.id == "ngo" {
            let of_address = shown
                .iter()
                .find(|o| o["id"] == tracewire::stix::object_id("sighting", &sightings[1]))
                .unwrap();
            let indicator = objects
                .iter()
                .find(|o| o["id"] == of_address["sighting_of_ref"])
                .unwrap();
            assert_eq!(
                indicator["pattern"],
                format!("[cryptocurrency-wallet:value = '{}']", evm(1))
            );
        }
    }

    // A STIX sighting in: for sighters only.
    let envelope = json!({ "objects": [{
        "type": "sighting", "spec_version": "2.1", "id": "sighting--4a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
        "sighting_of_ref": indicator_id(&ids[0]), "count": 2, "last_seen": "2026-11-19T08:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"] }]})
    .to_string();
    let objects_path = format!("{INTEL}/objects/");
    let by_watch = taxii_post(
        &w.app,
        &watch,
        &watch_token,
        &objects_path,
        TAXII,
        &envelope,
    )
    .await;
    assert_eq!(by_watch.body["success_count"], 1, "{}", by_watch.body);
    let acme_token = w.app.token(&w.acme).await;
    let by_acme = taxii_post(
        &w.app,
        &w.acme,
        &acme_token,
        &objects_path,
        TAXII,
        &envelope,
    )
    .await;
    assert_eq!(by_acme.body["failure_count"], 1, "{}", by_acme.body);
    assert!(by_acme.body["failures"][0]["message"]
        .as_str()
        .unwrap()
        .contains("sightings:write"));
    // …and nothing of it was stored.
    let acme_sightings = w
        .app
        .get(
            &w.acme,
            "/v1/records/count?kind=sighting&source=acme",
            Some(&acme_token),
        )
        .await;
    assert_eq!(acme_sightings.body["count"], 0, "{}", acme_sightings.body);
    // A client that only reports sightings may POST them, and nothing else.
    let screen = w.app.add_org(
        "screen",
        tracewire::domain::OrganizationType::Exchange,
        "indicators:read sightings:write",
    );
    let screen_token = w.app.token(&screen).await;
    let mut mixed: Value = serde_json::from_str(&envelope).unwrap();
    mixed["objects"].as_array_mut().unwrap().push(json!({
        "type": "cryptocurrency-wallet", "spec_version": "2.1",
        "id": "cryptocurrency-wallet--0d7e2a44-5a8b-5c61-9f1e-2b3c4d5e6f70", "value": evm(9) }));
    let by_screen = taxii_post(
        &w.app,
        &screen,
        &screen_token,
        &objects_path,
        TAXII,
        &mixed.to_string(),
    )
    .await;
    assert_eq!(by_screen.status, 202, "{}", by_screen.body);
    assert_eq!(by_screen.body["success_count"], 1, "{}", by_screen.body);
    assert!(by_screen.body["failures"][0]["message"]
        .as_str()
        .unwrap()
        .contains("indicators:write"));
    let record = w
        .app
        .get(
            &w.acme,
            &format!("/v1/records/{}/sightings", ids[0]),
            Some(&acme_token),
        )
        .await;
    assert_eq!(record.status, 200, "{}", record.body);
}

crate::on_both_backends!(
    taxii_endpoints_answer_as_the_specification_says,
    adding_objects_reports_every_object,
    red_never_leaks_through_taxii,
    sightings_are_sighting_objects,
);

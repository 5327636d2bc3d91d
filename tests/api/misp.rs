//! MISP, proven with its own code: events built with pymisp and converted
//! by misp-stix (MISP's converter) arrive over TAXII as the right records
//! with the right TLP; the same events from disk (`tracewire import` of a
//! MISP feed) change nothing; the MISP export loads into pymisp and
//! converts with misp-stix, keeping every address on its chain, its TLP,
//! the wallet membership and the attribution (`tests/misp/misp_flow.py`).
//! The export shows each reader only what it may read.
//!
//! The Python half needs `TRACEWIRE_TEST_PYTHON` with the pinned
//! `tests/misp/requirements.txt` (and `tests/taxii/requirements.txt`):
//! `.ci/run` makes it. Without it the Python half says it is skipped, and
//! fails when `CI` is set.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use crate::ingest::run_import;
use crate::records::{address_record, create, evm, sharing_cases, world};
use crate::taxii::{taxii_post, INTEL, TAXII};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use tracewire::domain::OrganizationType;

/// The Python with pymisp and misp-stix, or `None` (after saying so).
fn python() -> Option<String> {
    match std::env::var("TRACEWIRE_TEST_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var_os("CI").is_some() => panic!(
            "TRACEWIRE_TEST_PYTHON is not set, but CI is: the MISP test must run in CI \
             (.ci/run makes the venv and sets it)"
        ),
        _ => {
            eprintln!(
                "skipped: TRACEWIRE_TEST_PYTHON is not set (see tests/misp/requirements.txt)"
            );
            None
        }
    }
}

/// Runs `tests/misp/misp_flow.py MODE` as `org` against `app`, off the
/// test's runtime thread; its last stdout line is the summary.
async fn misp_flow(python: &str, app: &TestApp, org: &TestOrg, dir: &Path, mode: &str) -> Value {
    std::fs::write(dir.join("ca.pem"), &app.pki.ca.cert_pem).unwrap();
    std::fs::write(dir.join("cert.pem"), &org.certificate.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &org.certificate.key_pem).unwrap();
    let config = json!({
        "base_url": app.url(""),
        "ca": dir.join("ca.pem"),
        "cert": dir.join("cert.pem"),
        "key": dir.join("key.pem"),
        "client_id": org.client_id,
        "dir": dir,
        "round_trip": true,
    });
    let config_path = dir.join(format!("{mode}.json"));
    std::fs::write(&config_path, config.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/misp/misp_flow.py");
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .arg(mode)
        .arg(&config_path)
        .output()
        .await
        .expect("the test Python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "misp_flow.py {mode} failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

/// Every record `org` may see of `kind`.
async fn records_of(app: &TestApp, org: &TestOrg, token: &str, kind: &str) -> Vec<Value> {
    let page = app
        .get(
            org,
            &format!("/v1/records?kind={kind}&limit=1000"),
            Some(token),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body["items"].as_array().unwrap().clone()
}

async fn count(app: &TestApp, org: &TestOrg, token: &str) -> i64 {
    let reply = app.get(org, "/v1/records/count", Some(token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["count"].as_i64().unwrap()
}

fn same_address(a: &str, b: &str) -> bool {
    if a.starts_with("0x") {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// pymisp events (every crypto type and object, every TLP tag) through
/// misp-stix and TAXII: the right records, TLP, wallet, attribution and
/// sighting; re-posting and importing the same events from a MISP feed
/// directory change nothing; a newer version is a new revision; the MISP
/// export converts back with nothing lost.
async fn misp_events_arrive_and_round_trip(backend: TestBackend) {
    let Some(python) = python() else { return };
    let app = TestApp::spawn(backend).await;
    let scopes = "indicators:read indicators:write sightings:write";
    let forensics = app.add_org("forensics", OrganizationType::Forensics, scopes);
    let token = app.token(&forensics).await;
    let dir = tempfile::tempdir().unwrap();

    let built = misp_flow(&python, &app, &forensics, dir.path(), "build").await;
    assert_eq!(built["failures"], json!([]), "{built}");
    let posts = built["posts"].as_array().unwrap();
    // misp-stix writes MISP's crypto content as custom objects in a grouping.
    for expected in [
        "grouping",
        "x-misp-attribute",
        "x-misp-object",
        "relationship",
        "sighting",
    ] {
        assert!(
            posts[0]["types"]
                .as_array()
                .unwrap()
                .contains(&json!(expected)),
            "{expected}"
        );
    }
    // Only what misp-stix made of the non-crypto attribute (an indicator,
    // observed-data and its observables, their based-on) is refused, with
    // the reason.
    let failures = posts[0]["first"]["failures"].as_array().unwrap();
    assert!(!failures.is_empty());
    for failure in failures {
        let id = failure["id"].as_str().unwrap();
        let message = failure["message"].as_str().unwrap();
        assert!(
            id.ends_with("0000000000a8") || message.starts_with("based-on"),
            "{failures:?}"
        );
    }
    assert!(failures
        .iter()
        .any(|f| f["message"] == "tracewire cannot map STIX type \"ipv4-addr\""));
    // The same envelope again: every object is unchanged.
    let again = &posts[0]["again"];
    assert_eq!(again["failures"], posts[0]["first"]["failures"]);
    let unchanged = again["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.as_str().unwrap_or_default().starts_with("unchanged"))
        .count();
    let stored_first = posts[0]["first"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m.as_str()
                .unwrap_or_default()
                .starts_with("stored as record")
        })
        .count();
    assert!(stored_first >= 15, "{}", posts[0]["first"]);
    assert_eq!(unchanged, stored_first, "{again}");
    let stored: Vec<&Value> = again["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.as_str().unwrap_or_default().starts_with("stored"))
        .collect();
    assert!(stored.is_empty(), "{stored:?}");

    // Every address, on its chain, with its TLP (white is CLEAR, an
    // untagged attribute takes its event's tag, an unmarked event is RED).
    let addresses = records_of(&app, &forensics, &token, "address").await;
    let expected = built["expected"].as_array().unwrap();
    assert_eq!(addresses.len(), expected.len(), "{addresses:?}");
    for want in expected {
        let found = addresses
            .iter()
            .find(|r| {
                r["chain"] == want["chain"]
                    && same_address(
                        r["address"].as_str().unwrap(),
                        want["address"].as_str().unwrap(),
                    )
            })
            .unwrap_or_else(|| panic!("{want} not among {addresses:?}"));
        assert_eq!(found["tlp"], want["tlp"], "{want}");
        assert_eq!(found["provenance"]["method"], "import");
        // The event's author is kept as an external reference.
        assert!(
            found["external_references"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["source_name"] == "Forensics Ltd"),
            "{found}"
        );
    }
    let genesis = addresses
        .iter()
        .find(|r| r["address"] == "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
        .unwrap();
    assert_eq!(genesis["description"], "genesis");

    // The btc-wallet is a wallet with its address; the ETH coin-address is
    // in it; the wallet is attributed to Hydra; the sighting is there.
    let wallets = records_of(&app, &forensics, &token, "wallet").await;
    assert_eq!(wallets.len(), 1, "{wallets:?}");
    assert_eq!(wallets[0]["name"], "Cluster 7");
    assert_eq!(wallets[0]["chain"], "btc");
    let entities = records_of(&app, &forensics, &token, "entity").await;
    let hydra = entities.iter().find(|e| e["name"] == "Hydra").unwrap();
    assert_eq!(hydra["entity_type"], "darknet_market");
    let relationships = records_of(&app, &forensics, &token, "relationship").await;
    let id_of = |address: &str| {
        addresses
            .iter()
            .find(|r| same_address(r["address"].as_str().unwrap(), address))
            .map(|r| r["id"].clone())
            .unwrap()
    };
    let link = |from: &Value, relation: &str, to: &Value| {
        relationships
            .iter()
            .any(|r| r["from"] == *from && r["relation"] == relation && r["to"] == *to)
    };
    assert!(link(
        &id_of("bc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq9e75rs"),
        "member_of",
        &wallets[0]["id"]
    ));
    assert!(link(
        &id_of("0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1"),
        "member_of",
        &wallets[0]["id"]
    ));
    assert!(link(&wallets[0]["id"], "attributed_to", &hydra["id"]));
    let sightings = records_of(&app, &forensics, &token, "sighting").await;
    assert_eq!(sightings.len(), 1, "{sightings:?}");
    assert_eq!(sightings[0]["sighting"]["of"], genesis["id"]);

    // The same events from disk, as a MISP feed: nothing new.
    let before = count(&app, &forensics, &token).await;
    let feed = dir.path().join("feed");
    let (status, output) = run_import(&app, &forensics, &[feed.to_str().unwrap()]).await;
    assert_eq!(status, 2, "one object refused: {output}");
    assert!(output.contains("1 rejected"), "{output}");
    assert!(output.contains("not a cryptocurrency address"), "{output}");
    assert_eq!(count(&app, &forensics, &token).await, before, "{output}");

    // A newer version of an attribute is a new revision of the same record.
    let newer = json!({"objects": [{
        "type": "x-misp-attribute", "spec_version": "2.1",
        "id": "x-misp-attribute--5e7f3a10-0000-4000-8000-0000000000a1",
        "created": "2025-12-01T11:53:20.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "x_misp_type": "btc", "x_misp_value": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "x_misp_comment": "genesis, confirmed",
        "object_marking_refs": ["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"]
    }]});
    let objects_path = format!("{INTEL}/objects/");
    let status = taxii_post(
        &app,
        &forensics,
        &token,
        &objects_path,
        TAXII,
        &newer.to_string(),
    )
    .await;
    assert_eq!(status.status, 202, "{}", status.body);
    let message = status.body["successes"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("stored as revision 2 of record"),
        "{message}"
    );
    let revisions = app
        .get(
            &forensics,
            &format!("/v1/records/{}/revisions", genesis["id"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(
        revisions.body.as_array().map(Vec::len),
        Some(2),
        "{}",
        revisions.body
    );
    assert_eq!(count(&app, &forensics, &token).await, before);

    // tracewire -> MISP: pymisp loads the export, misp-stix converts it,
    // nothing of the original events is lost.
    let exported = misp_flow(&python, &app, &forensics, dir.path(), "export").await;
    assert_eq!(exported["failures"], json!([]), "{exported}");
    assert_eq!(exported["lost"], json!([]), "{exported}");
    for kind in ["btc", "xmr", "dash"] {
        assert!(
            exported["attribute_types"]
                .as_array()
                .unwrap()
                .contains(&json!(kind)),
            "{exported}"
        );
    }
    for name in ["coin-address", "infrastructure", "organization"] {
        assert!(
            exported["object_names"]
                .as_array()
                .unwrap()
                .contains(&json!(name)),
            "{exported}"
        );
    }
    let references = exported["references"].as_array().unwrap();
    assert!(
        references.iter().any(|r| r["from"] == "coin-address"
            && r["from_address"][1] == "0x01e2919679362dfbc9ee1644ba9c6da6d6245bb1"
            && r["relation"] == "member-of"
            && r["to"] == "infrastructure"),
        "{references:?}"
    );
    assert!(
        references.iter().any(|r| r["from"] == "infrastructure"
            && r["relation"] == "attributed-to"
            && r["to"] == "organization"
            && r["to_name"] == "Hydra"),
        "{references:?}"
    );
    assert_eq!(
        exported["sightings"].as_array().unwrap().len(),
        1,
        "{exported}"
    );
    for stix in [
        "x-misp-attribute",
        "x-misp-object",
        "identity",
        "relationship",
        "sighting",
    ] {
        assert!(
            exported["stix_types"]
                .as_array()
                .unwrap()
                .contains(&json!(stix)),
            "{exported}"
        );
    }
    eprintln!(
        "MISP: {} records from {} objects; export: {} addresses, objects {}, misp-stix notes {}",
        before,
        posts
            .iter()
            .map(|p| p["first"]["total"].as_u64().unwrap())
            .sum::<u64>(),
        exported["addresses"].as_array().unwrap().len(),
        exported["object_names"],
        exported["misp_stix_warnings"]
    );
}

/// The MISP uuids of an export: attributes, objects, references, sightings.
fn misp_uuids(event: &Value) -> BTreeSet<String> {
    let mut uuids = BTreeSet::new();
    let event = &event["Event"];
    let attribute = |a: &Value, uuids: &mut BTreeSet<String>| {
        for sighting in a["Sighting"].as_array().into_iter().flatten() {
            uuids.insert(sighting["uuid"].as_str().unwrap().to_owned());
        }
    };
    for a in event["Attribute"].as_array().unwrap() {
        uuids.insert(a["uuid"].as_str().unwrap().to_owned());
        attribute(a, &mut uuids);
    }
    for o in event["Object"].as_array().unwrap() {
        uuids.insert(o["uuid"].as_str().unwrap().to_owned());
        for a in o["Attribute"].as_array().unwrap() {
            attribute(a, &mut uuids);
        }
        for r in o["ObjectReference"].as_array().unwrap() {
            uuids.insert(r["uuid"].as_str().unwrap().to_owned());
            uuids.insert(r["referenced_uuid"].as_str().unwrap().to_owned());
        }
    }
    uuids
}

async fn misp_export(app: &TestApp, org: &TestOrg) -> Value {
    let token = app.token(org).await;
    let (status, headers, body) = app
        .get_text(org, "/v1/records/export?format=misp", &token)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    serde_json::from_str(&body).unwrap()
}

/// Every TLP x audience case, read by the source, a named recipient, a
/// community member, another partner and the hub: a reader's MISP export
/// holds exactly the records it may read, relationships only when it may
/// see them and both ends, and anonymous sources stay anonymous.
async fn misp_export_holds_only_what_the_reader_may_read(backend: TestBackend) {
    let w = world(backend).await;
    let cases = sharing_cases();
    let mut items: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (tlp, audience, _))| address_record(&evm(i), tlp, audience.clone()))
        .collect();
    // A CLEAR wallet and a CLEAR btc address, anonymous.
    items.push(
        json!({"kind": "wallet", "chain": "eth", "name": "cluster", "tlp": "clear",
        "audience": {}, "method": "blockchain_analysis", "categories": ["scam"], "confidence": 60}),
    );
    items.push(
        json!({"kind": "address", "chain": "btc", "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "tlp": "clear", "audience": {}, "attribution": "anonymous", "method": "osint",
        "categories": ["scam"], "confidence": 60}),
    );
    let created = create(&w.app, &w.acme, items).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let ids: Vec<String> = created.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let wallet = ids[cases.len()].clone();
    let anonymous = ids[cases.len() + 1].clone();
    // Each case's address is in the CLEAR wallet, by a CLEAR relationship.
    let links: Vec<Value> = (0..cases.len())
        .map(|i| {
            json!({"kind": "relationship", "relation": "member_of", "from": ids[i], "to": wallet,
            "tlp": "clear", "audience": {}, "method": "blockchain_analysis", "confidence": 60})
        })
        .collect();
    let linked = create(&w.app, &w.acme, links).await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    let link_ids: Vec<String> = linked.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();

    let readers = [&w.acme, &w.ngo, &w.member, &w.exchange, &w.hub];
    for (reader_index, reader) in readers.iter().enumerate() {
        let event = misp_export(&w.app, reader).await;
        let uuids = misp_uuids(&event);
        let mut expected: BTreeSet<String> = [wallet.clone(), anonymous.clone()].into();
        for (i, case) in cases.iter().enumerate() {
            if case.2[reader_index] {
                expected.insert(ids[i].clone());
                expected.insert(link_ids[i].clone());
            }
        }
        assert_eq!(uuids, expected, "{} reads {event}", reader.id);
        // The anonymous address names no source; the named ones do.
        let text = event.to_string();
        let attributes = event["Event"]["Attribute"].as_array().unwrap();
        let btc = attributes
            .iter()
            .find(|a| a["uuid"] == anonymous.as_str())
            .unwrap();
        assert_eq!(btc["type"], "btc");
        let tags: BTreeMap<String, ()> = btc["Tag"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap().to_owned(), ()))
            .collect();
        assert!(tags.contains_key("tlp:clear"), "{tags:?}");
        assert!(tags.contains_key("tracewire:category=\"scam\""), "{tags:?}");
        let named = reader.id == "acme";
        assert_eq!(
            tags.keys().any(|t| t.starts_with("tracewire:source")),
            named,
            "{}: {tags:?}",
            reader.id
        );
        assert!(
            text.contains("tracewire:source=\\\"acme\\\""),
            "{}",
            reader.id
        );
        // Every TLP tag is the record's.
        for (i, case) in cases.iter().enumerate() {
            if !case.2[reader_index] {
                continue;
            }
            let object = event["Event"]["Object"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["uuid"] == ids[i].as_str())
                .unwrap();
            assert_eq!(object["name"], "coin-address");
            let address = &object["Attribute"][0];
            assert_eq!(address["object_relation"], "address-crypto");
            assert_eq!(address["Tag"][0]["name"], format!("tlp:{}", case.0));
            assert_eq!(object["Attribute"][1]["value"], "ETH");
        }
    }
}

crate::on_both_backends!(
    misp_events_arrive_and_round_trip,
    misp_export_holds_only_what_the_reader_may_read
);

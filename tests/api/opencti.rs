//! OpenCTI's forms: `cryptocurrency-wallet` observables with `value` (and
//! other producers' `address`), `:value` and `:address` patterns, OpenCTI's
//! own TLP:AMBER+STRICT marking definition, its `based-on` link from an
//! indicator to its observable (one record), the author identity; posted
//! again, nothing changes; read back as STIX, the observable, the
//! indicator and their link are there.
use crate::helpers::{TestApp, TestBackend};
use crate::ingest::run_import;
use crate::taxii::{all_objects, assert_envelope_is_tidy, taxii_get, taxii_post, INTEL, TAXII};
use serde_json::{json, Value};
use tracewire::domain::OrganizationType;

const OPENCTI_AMBER_STRICT: &str = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37";
const TLP1_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
const TRON: &str = "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre";
const EVM: &str = "0x00000000000000000000000000000000c7100001";

/// A bundle as OpenCTI exports an indicator with its observable (pycti's
/// TLP:AMBER+STRICT statement marking, `x_opencti_*` properties), and an
/// observable and indicator in the `address` form other producers write.
fn opencti_bundle() -> Value {
    let author = "identity--7b82b010-b1c0-4dae-981f-7756374a17da";
    json!({ "type": "bundle", "id": "bundle--3f6a9d1e-2c4b-4e8f-9a1d-0b2c3d4e5f60", "objects": [
        { "type": "marking-definition", "spec_version": "2.1", "id": OPENCTI_AMBER_STRICT,
          "created": "2022-10-01T00:00:00.000Z", "definition_type": "statement",
          "definition": { "statement": "custom" }, "name": "TLP:AMBER+STRICT",
          "x_opencti_definition_type": "TLP", "x_opencti_definition": "TLP:AMBER+STRICT" },
        { "type": "identity", "spec_version": "2.1", "id": author, "name": "CTI team",
          "identity_class": "organization", "created": "2026-11-01T00:00:00.000Z",
          "modified": "2026-11-01T00:00:00.000Z" },
        { "type": "indicator", "spec_version": "2.1",
          "id": "indicator--0c7b5f3e-8d2a-4b1c-9e6f-5a4d3c2b1a09",
          "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
          "name": TRON, "pattern": format!("[cryptocurrency-wallet:value = '{TRON}']"),
          "pattern_type": "stix", "valid_from": "2026-11-20T10:00:00.000Z",
          "created_by_ref": author, "object_marking_refs": [OPENCTI_AMBER_STRICT],
          "labels": ["scam"], "confidence": 75,
          "x_opencti_score": 80, "x_opencti_main_observable_type": "Cryptocurrency-Wallet" },
        { "type": "cryptocurrency-wallet", "spec_version": "2.1",
          "id": "cryptocurrency-wallet--5a0e4a2c-3b1d-5e6f-8a9b-1c2d3e4f5a6b", "value": TRON,
          "object_marking_refs": [OPENCTI_AMBER_STRICT], "created_by_ref": author,
          "x_opencti_score": 80 },
        { "type": "relationship", "spec_version": "2.1",
          "id": "relationship--9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
          "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
          "relationship_type": "based-on",
          "source_ref": "indicator--0c7b5f3e-8d2a-4b1c-9e6f-5a4d3c2b1a09",
          "target_ref": "cryptocurrency-wallet--5a0e4a2c-3b1d-5e6f-8a9b-1c2d3e4f5a6b",
          "created_by_ref": author, "object_marking_refs": [OPENCTI_AMBER_STRICT] },
        { "type": "cryptocurrency-wallet", "spec_version": "2.1",
          "id": "cryptocurrency-wallet--6b1f5b3d-4c2e-5f70-9bac-2d3e4f5a6b7c", "address": EVM,
          "object_marking_refs": [TLP1_GREEN] },
        { "type": "indicator", "spec_version": "2.1",
          "id": "indicator--1d8c6a4f-9e3b-4c2d-8f7a-6b5e4d3c2b1a",
          "created": "2026-11-21T10:00:00.000Z", "modified": "2026-11-21T10:00:00.000Z",
          "pattern": format!("[cryptocurrency-wallet:address = '{EVM}']"), "pattern_type": "stix",
          "valid_from": "2026-11-21T10:00:00.000Z", "object_marking_refs": [TLP1_GREEN] }
    ]})
}

async fn opencti_forms_are_understood_and_round_trip(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let org = app.add_org(
        "cti",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let token = app.token(&org).await;
    let path = format!("{INTEL}/objects/");
    let bundle = opencti_bundle().to_string();

    let first = taxii_post(&app, &org, &token, &path, TAXII, &bundle).await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(first.body["failure_count"], 0, "{}", first.body);
    assert_eq!(first.body["success_count"], 7, "{}", first.body);
    let message = |id: &str| {
        first.body["successes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["message"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert!(message(OPENCTI_AMBER_STRICT).starts_with("TLP:AMBER+STRICT marking"));
    assert!(message("relationship--9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b").starts_with("based-on"));
    assert!(
        message("identity--7b82b010-b1c0-4dae-981f-7756374a17da").starts_with("author identity")
    );

    let page = app
        .get(&org, "/v1/records?kind=address", Some(&token))
        .await;
    let records = page.body["items"].as_array().unwrap().clone();
    assert_eq!(
        records.len(),
        2,
        "indicator and observable are one record each: {records:?}"
    );
    let tron = records.iter().find(|r| r["address"] == TRON).unwrap();
    assert_eq!(tron["chain"], "trx");
    assert_eq!(tron["tlp"], "amber+strict");
    assert_eq!(tron["audience"]["organizations"], json!(["cti"]));
    assert_eq!(tron["categories"], json!(["scam"]));
    assert_eq!(tron["confidence"], 75);
    let evm = records.iter().find(|r| r["address"] == EVM).unwrap();
    assert_eq!(evm["chain"], "eth");
    assert_eq!(evm["tlp"], "green");

    // Posted again: nothing changes.
    let again = taxii_post(&app, &org, &token, &path, TAXII, &bundle).await;
    assert_eq!(again.status, 202, "{}", again.body);
    for success in again.body["successes"].as_array().unwrap() {
        let text = success["message"].as_str().unwrap();
        assert!(!text.starts_with("stored"), "{text}");
    }
    let count = app.get(&org, "/v1/records/count", Some(&token)).await;
    assert_eq!(count.body["count"], 2, "{}", count.body);
    let revisions = app
        .get(
            &org,
            &format!("/v1/records/{}/revisions", tron["id"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(revisions.body.as_array().map(Vec::len), Some(1));

    // The same bundle from a file with `tracewire import`: nothing changes.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opencti-export.json");
    std::fs::write(&file, &bundle).unwrap();
    let (status, output) = run_import(&app, &org, &[file.to_str().unwrap()]).await;
    assert_eq!(status, 0, "{output}");
    assert!(
        output.contains("7 objects, 7 accepted, 0 rejected"),
        "{output}"
    );
    let count = app.get(&org, "/v1/records/count", Some(&token)).await;
    assert_eq!(count.body["count"], 2, "{}", count.body);

    // Read back as STIX: the indicator, the observable and their link, under
    // the TLP 2.0 AMBER+STRICT marking, each page tidy.
    let objects = all_objects(&app, &org, &token, INTEL, 1000).await;
    assert_envelope_is_tidy(&objects);
    let indicator = objects
        .iter()
        .find(|o| {
            o["type"] == "indicator"
                && o["pattern"] == format!("[cryptocurrency-wallet:value = '{TRON}']")
        })
        .unwrap();
    let observable = objects
        .iter()
        .find(|o| o["type"] == "cryptocurrency-wallet" && o["value"] == TRON)
        .unwrap();
    let link = objects
        .iter()
        .find(|o| {
            o["relationship_type"] == "based-on"
                && o["source_ref"] == indicator["id"]
                && o["target_ref"] == observable["id"]
        })
        .unwrap();
    // The link is found by its id too.
    let by_id = taxii_get(
        &app,
        &org,
        &token,
        &format!("{INTEL}/objects/{}/", link["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(by_id.status, 200, "{}", by_id.body);
    assert_eq!(by_id.body["objects"][0]["id"], link["id"]);
    assert_eq!(
        indicator["object_marking_refs"],
        json!([tracewire::stix::tlp_marking_id(
            tracewire::domain::Tlp::AmberStrict
        )])
    );
    assert!(!objects.iter().any(|o| o["id"] == OPENCTI_AMBER_STRICT));
}

crate::on_both_backends!(opencti_forms_are_understood_and_round_trip);

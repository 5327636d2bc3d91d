//! Screening: single and bulk lookups see exactly what record reads see.
use crate::helpers::{TestBackend, TestOrg};
use crate::records::{address_record, create, evm, sharing_cases, world, World};
use awc::http::Method;
use serde_json::{json, Value};

async fn screen_one(w: &World, org: &TestOrg, chain: &str, address: &str) -> crate::helpers::Reply {
    let token = w.app.token(org).await;
    w.app
        .get(org, &format!("/v1/screen/{chain}/{address}"), Some(&token))
        .await
}

async fn screen_many(w: &World, org: &TestOrg, items: Value) -> crate::helpers::Reply {
    let token = w.app.token(org).await;
    w.app
        .send_json(
            org,
            Method::POST,
            "/v1/screen",
            &token,
            json!({ "items": items }),
        )
        .await
}

/// Every TLP × audience × reader relation, through the single and the bulk
/// lookup: a match only where the reader may read the record.
async fn screening_respects_the_sharing_rules(backend: TestBackend) {
    let w = world(backend).await;
    let cases = sharing_cases();
    let items: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (tlp, audience, _))| address_record(&evm(i), tlp, audience.clone()))
        .collect();
    let created = create(&w.app, &w.acme, items).await;
    assert_eq!(created.status, 201, "{}", created.body);

    let readers = [&w.acme, &w.ngo, &w.member, &w.exchange, &w.hub];
    for (r, reader) in readers.iter().enumerate() {
        let bulk_items: Vec<Value> = (0..cases.len())
            .map(|i| json!({ "chain": "eth", "address": evm(i) }))
            .collect();
        let bulk = screen_many(&w, reader, json!(bulk_items)).await;
        assert_eq!(bulk.status, 200, "{}", bulk.body);
        for (i, case) in cases.iter().enumerate() {
            let expected = case.2[r];
            let single = screen_one(&w, reader, "eth", &evm(i)).await;
            assert_eq!(single.status, 200, "{}", single.body);
            for (how, result) in [("single", &single.body), ("bulk", &bulk.body["items"][i])] {
                let what = format!("{} {how} {} {}", reader.id, case.0, case.1);
                assert_eq!(result["matched"], expected, "{what}: {result}");
                let records = result["records"].as_array().unwrap();
                assert_eq!(records.len(), usize::from(expected), "{what}");
                if expected {
                    assert_eq!(result["categories"], json!(["human_trafficking"]), "{what}");
                    assert_eq!(result["highest_confidence"], 80, "{what}");
                    assert_eq!(result["sources"], json!(["acme"]), "{what}");
                } else {
                    // Nothing about an invisible record leaks into any field.
                    assert_eq!(result["categories"], json!([]), "{what}");
                    assert_eq!(result["highest_confidence"], Value::Null, "{what}");
                    assert_eq!(result["sources"], json!([]), "{what}");
                }
            }
        }
        let expected_matches = cases.iter().filter(|c| c.2[r]).count();
        assert_eq!(bulk.body["matched"], expected_matches, "{}", reader.id);
    }
}

/// One address typed in other forms matches: checksummed case on another
/// EVM chain, its TRON form, no chain at all, BCH legacy versus cashaddr.
async fn screening_matches_every_form_of_an_address(backend: TestBackend) {
    let w = world(backend).await;
    let hex = "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
    let mut bch = address_record("", "green", json!({}));
    bch["chain"] = json!("bch");
    bch["address"] = json!("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a");
    let created = create(
        &w.app,
        &w.acme,
        vec![address_record(&format!("0x{hex}"), "green", json!({})), bch],
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let mut payload = vec![0x41u8];
    payload.extend(hex::decode(hex).unwrap());
    let tron = bs58::encode(payload).with_check().into_string();

    let forms = [
        (
            "bsc",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".to_owned(),
        ),
        ("any", format!("0x{}", hex.to_uppercase())),
        ("trx", tron.clone()),
        ("any", tron),
        ("bch", "1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu".to_owned()),
        (
            "any",
            "qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a".to_owned(),
        ),
    ];
    for (chain, address) in forms {
        let reply = screen_one(&w, &w.exchange, chain, &address).await;
        assert_eq!(reply.status, 200, "{chain} {address}: {}", reply.body);
        assert_eq!(
            reply.body["matched"], true,
            "{chain} {address}: {}",
            reply.body
        );
        assert_eq!(reply.body["records"].as_array().unwrap().len(), 1);
    }
    // A checksum that does not hold is refused, not silently missed.
    let bad = screen_one(
        &w,
        &w.exchange,
        "eth",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
    )
    .await;
    bad.assert_problem(422, "validation-failed");
}

/// Wallets and entities come only through relationships the reader may see;
/// anonymous sources stay hidden; invalid bulk items fail alone; revoked
/// records no longer match.
async fn screening_walks_visible_links_only(backend: TestBackend) {
    let w = world(backend).await;
    let address = address_record(&evm(1), "green", json!({}));
    let wallet = json!({ "kind": "wallet", "chain": "eth", "name": "Cluster", "categories": ["darknet_market"],
        "confidence": 70, "tlp": "green", "method": "blockchain_analysis" });
    let entity = json!({ "kind": "entity", "name": "Market X", "entity_type": "market", "categories": ["csam"],
        "confidence": 90, "tlp": "green", "attribution": "anonymous", "method": "investigation" });
    let created = create(&w.app, &w.acme, vec![address, wallet, entity]).await;
    let ids: Vec<String> = created.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let link = |relation: &str, from: &str, to: &str, tlp: &str, audience: Value| {
        json!({ "kind": "relationship", "relation": relation, "from": from, "to": to,
            "confidence": 80, "tlp": tlp, "audience": audience, "method": "blockchain_analysis" })
    };
    let links = create(
        &w.app,
        &w.acme,
        vec![
            link("member_of", &ids[0], &ids[1], "green", json!({})),
            link(
                "attributed_to",
                &ids[1],
                &ids[2],
                "red",
                json!({"organizations": ["ngo"]}),
            ),
        ],
    )
    .await;
    assert_eq!(links.status, 201, "{}", links.body);

    let ngo = screen_one(&w, &w.ngo, "eth", &evm(1)).await;
    assert_eq!(
        ngo.body["wallets"].as_array().unwrap().len(),
        1,
        "{}",
        ngo.body
    );
    assert_eq!(
        ngo.body["entities"].as_array().unwrap().len(),
        1,
        "{}",
        ngo.body
    );
    assert_eq!(ngo.body["entities"][0]["record"]["name"], "Market X");
    assert_eq!(
        ngo.body["categories"],
        json!(["human_trafficking", "csam", "darknet_market"])
    );
    // The entity is anonymous: its source is not named.
    assert_eq!(
        ngo.body["entities"][0]["record"]["provenance"]["source_organization"],
        Value::Null
    );
    assert_eq!(ngo.body["sources"], json!(["acme"]));

    let exchange = screen_one(&w, &w.exchange, "eth", &evm(1)).await;
    assert_eq!(exchange.body["wallets"].as_array().unwrap().len(), 1);
    assert_eq!(
        exchange.body["entities"],
        json!([]),
        "the RED attribution stays hidden"
    );
    assert_eq!(
        exchange.body["categories"],
        json!(["human_trafficking", "darknet_market"])
    );

    let bulk = screen_many(
        &w,
        &w.exchange,
        json!([
            { "chain": "eth", "address": evm(1) },
            { "chain": "eth", "address": "0xnope" },
            { "address": "XBT" },
            { "address": evm(2) },
        ]),
    )
    .await;
    assert_eq!(bulk.status, 200, "{}", bulk.body);
    assert_eq!(bulk.body["matched"], 1);
    assert_eq!(bulk.body["items"][1]["error"]["index"], 1);
    assert_eq!(bulk.body["items"][1]["error"]["field"], "address");
    assert!(bulk.body["items"][2]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("asset ticker"));
    assert_eq!(bulk.body["items"][3]["matched"], false);
    assert_eq!(bulk.body["items"][3]["forms"][0]["address"], evm(2));

    let too_many: Vec<Value> = (0..10_001).map(|i| json!({ "address": evm(i) })).collect();
    screen_many(&w, &w.exchange, json!(too_many))
        .await
        .assert_problem(422, "validation-failed");

    let token = w.app.token(&w.acme).await;
    let revoked = w
        .app
        .send_json(
            &w.acme,
            Method::POST,
            &format!("/v1/records/{}/revoke", ids[0]),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let after = screen_one(&w, &w.exchange, "eth", &evm(1)).await;
    assert_eq!(after.body["matched"], false);
}

crate::on_both_backends!(
    screening_respects_the_sharing_rules,
    screening_matches_every_form_of_an_address,
    screening_walks_visible_links_only,
);

//! The console's pages over real HTTPS, and the sharing matrix through
//! them: a RED record of Acme shared with Safe Harbor is shown to Safe
//! Harbor and is a not-found page for Northwind, with no trace (id,
//! address, label) in lookups, lists, counts, search, the feed or graphs.
use crate::console::{orgs, Orgs};
use crate::console_browser::{Browser, Page};
use crate::helpers::TestBackend;
use crate::records::create;
use serde_json::{json, Value};

pub const RED_ADDRESS: &str = "0x00000000000000000000000000000000deadbeef";
pub const RED_ENTITY: &str = "Lantern Ring Syndicate";
const WALLET: &str = "Harbour Road wallet";

/// Acme's records: a RED address and a RED entity shared with Safe Harbor
/// (the address attributed to the entity, RED too), and a CLEAR wallet
/// with a RED relationship to the entity.
pub struct Fixture {
    pub o: Orgs,
    pub red_address: String,
    pub red_entity: String,
    pub wallet: String,
}

pub fn ids(reply: &crate::helpers::Reply) -> Vec<String> {
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

pub async fn fixture(backend: TestBackend) -> Fixture {
    let o = orgs(backend).await;
    let red = json!({ "organizations": ["safeharbor"] });
    let made = ids(&create(
        &o.app,
        &o.acme,
        vec![
            json!({ "kind": "address", "chain": "eth", "address": RED_ADDRESS,
                    "categories": ["human_trafficking"], "confidence": 90,
                    "tlp": "red", "audience": red, "method": "investigation",
                    "description": "seen in an ad" }),
            json!({ "kind": "entity", "name": RED_ENTITY, "entity_type": "criminal_group",
                    "categories": ["human_trafficking"], "confidence": 80,
                    "tlp": "red", "audience": red, "method": "investigation" }),
            json!({ "kind": "wallet", "chain": "eth", "name": WALLET,
                    "categories": ["exchange"], "confidence": 70,
                    "tlp": "clear", "audience": { "all_partners": true }, "method": "osint" }),
        ],
    )
    .await);
    let (red_address, red_entity, wallet) = (made[0].clone(), made[1].clone(), made[2].clone());
    ids(&create(
        &o.app,
        &o.acme,
        vec![
            json!({ "kind": "relationship", "relation": "attributed_to", "from": red_address, "to": red_entity,
                    "categories": ["human_trafficking"], "confidence": 80,
                    "tlp": "red", "audience": red, "method": "investigation" }),
            json!({ "kind": "relationship", "relation": "attributed_to", "from": wallet, "to": red_entity,
                    "categories": ["human_trafficking"], "confidence": 60,
                    "tlp": "red", "audience": red, "method": "investigation" }),
        ],
    )
    .await);
    Fixture {
        o,
        red_address,
        red_entity,
        wallet,
    }
}

impl Fixture {
    pub fn assert_no_trace(&self, page: &Page, what: &str) {
        for secret in [
            self.red_address.as_str(),
            self.red_entity.as_str(),
            RED_ADDRESS,
            RED_ENTITY,
        ] {
            assert!(
                !page.body.to_lowercase().contains(&secret.to_lowercase()),
                "{what} shows {secret}: {}",
                page.body
            );
        }
    }
}

/// The node ids of a record page's graph.
fn graph_nodes(body: &str) -> Vec<String> {
    let svg_start = body.find("<svg id=\"record-graph\"").expect("a graph");
    let svg = &body[svg_start..body[svg_start..].find("</svg>").unwrap() + svg_start];
    svg.split("data-record-id=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

async fn a_red_record_is_shown_to_its_recipient_and_hidden_from_others(backend: TestBackend) {
    let f = fixture(backend).await;
    let mut ngo = Browser::new(&f.o.app, &f.o.safe_harbor.certificate);
    ngo.sign_in(&f.o.safe_harbor).await;
    let mut exchange = Browser::new(&f.o.app, &f.o.northwind.certificate);
    exchange.sign_in(&f.o.northwind).await;

    // Safe Harbor: the record, its TLP in words and colour, its graph.
    let page = ngo
        .get(&format!("/console/records/{}", f.red_address))
        .await;
    let body = page.html(200);
    assert!(body.contains(RED_ADDRESS), "{body}");
    assert!(body.contains("class=\"tlp tlp-red\">TLP:RED<"), "{body}");
    assert!(body.contains("seen in an ad"));
    let nodes = graph_nodes(body);
    assert!(
        nodes.contains(&f.red_address) && nodes.contains(&f.red_entity),
        "{nodes:?}"
    );
    assert!(body.contains(RED_ENTITY));
    // Address → entity ← wallet: one step further through the entity is not
    // taken (only wallets are walked through), so the wallet is not drawn here.
    let wallet_page = ngo.get(&format!("/console/records/{}", f.wallet)).await;
    let nodes = graph_nodes(wallet_page.html(200));
    assert!(nodes.contains(&f.red_entity), "{nodes:?}");

    // Northwind: the same 404 page as a record that does not exist.
    let hidden = exchange
        .get(&format!("/console/records/{}", f.red_address))
        .await;
    let missing = exchange
        .get("/console/records/00000000-0000-7000-8000-000000000000")
        .await;
    hidden.html(404);
    missing.html(404);
    assert_eq!(
        hidden.body, missing.body,
        "hidden and missing look the same"
    );
    f.assert_no_trace(&hidden, "the 404 page");
    exchange
        .get(&format!("/console/records/{}", f.red_entity))
        .await
        .html(404);

    // Its graph: the CLEAR wallet without the RED relationship and entity.
    let wallet_page = exchange
        .get(&format!("/console/records/{}", f.wallet))
        .await;
    wallet_page.html(200);
    assert_eq!(graph_nodes(&wallet_page.body), vec![f.wallet.clone()]);
    f.assert_no_trace(&wallet_page, "the wallet's page");

    // A lookup of the address: no match, no record, no entity.
    let lookup = exchange
        .get(&format!(
            "/console/lookup?address={}",
            RED_ADDRESS.to_uppercase().replace("0X", "0x")
        ))
        .await;
    let body = lookup.html(200);
    assert!(body.contains("No match"), "{body}");
    assert!(
        !body.contains(&f.red_address) && !body.contains(RED_ENTITY),
        "{body}"
    );
    let lookup = ngo
        .get(&format!(
            "/console/lookup?address={}",
            RED_ADDRESS.to_uppercase().replace("0X", "0x")
        ))
        .await;
    let body = lookup.html(200);
    assert!(
        body.contains("MATCH") && body.contains(&f.red_address),
        "{body}"
    );
    assert!(body.contains(RED_ENTITY), "the entity is reached: {body}");
}

async fn lookup_and_list_screening_with_a_csv_download(backend: TestBackend) {
    let f = fixture(backend).await;
    let mut ngo = Browser::new(&f.o.app, &f.o.safe_harbor.certificate);
    ngo.sign_in(&f.o.safe_harbor).await;
    let page = ngo.get("/console/lookup").await;
    let body = page.html(200);
    assert!(body.contains("id=\"lookup-input\"") && body.contains("<label for=\"lookup-input\""));
    assert!(
        !body.contains("id=\"screen-results\""),
        "no results before a lookup"
    );
    let token = page.csrf();
    let list =
        format!("{RED_ADDRESS}\neth,0x0000000000000000000000000000000000000001\nnot-an-address");
    let results = ngo
        .post(
            "/console/screen",
            &[
                ("csrf", token.as_str()),
                ("addresses", list.as_str()),
                ("format", "html"),
            ],
        )
        .await;
    let body = results.html(200);
    assert!(
        body.contains("3 address(es) screened, <strong>1</strong> matched"),
        "{body}"
    );
    assert!(body.contains("Not valid"), "{body}");

    let csv = ngo
        .post(
            "/console/screen",
            &[
                ("csrf", token.as_str()),
                ("addresses", list.as_str()),
                ("format", "csv"),
            ],
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .contains("attachment"));
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[0][3], "true");
    assert!(rows[0][7].contains(&f.red_address));
    assert!(rows[0][9].contains(RED_ENTITY));
    assert_eq!(&rows[1][3], "false");
    assert!(!rows[2][12].is_empty(), "the invalid line says why");

    // The same list uploaded as a file (the form's file input).
    let uploaded = ngo
        .post_file(
            "/console/screen",
            &[
                ("csrf", token.as_str()),
                ("addresses", ""),
                ("format", "html"),
            ],
            &list,
        )
        .await;
    let body = uploaded.html(200);
    assert!(
        body.contains("3 address(es) screened, <strong>1</strong> matched"),
        "{body}"
    );
    let no_token = ngo
        .post_file(
            "/console/screen",
            &[("addresses", ""), ("format", "csv")],
            &list,
        )
        .await;
    no_token.html(403);

    // Northwind's download of the same list: nothing of the RED records.
    let mut exchange = Browser::new(&f.o.app, &f.o.northwind.certificate);
    exchange.sign_in(&f.o.northwind).await;
    let token = exchange.csrf().await;
    let csv = exchange
        .post(
            "/console/screen",
            &[
                ("csrf", token.as_str()),
                ("addresses", list.as_str()),
                ("format", "csv"),
            ],
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(!csv.body.contains(&f.red_address) && !csv.body.contains(RED_ENTITY));
    assert!(
        csv.body.lines().nth(1).unwrap().contains(",false,"),
        "{}",
        csv.body
    );
}

async fn a_sighting_reported_in_the_console_is_stored_with_its_own_sharing(backend: TestBackend) {
    let f = fixture(backend).await;
    let mut ngo = Browser::new(&f.o.app, &f.o.safe_harbor.certificate);
    ngo.sign_in(&f.o.safe_harbor).await;
    let record = ngo
        .get(&format!("/console/records/{}", f.red_address))
        .await;
    assert!(record.html(200).contains("id=\"report-sighting\""));
    let form = ngo
        .get(&format!("/console/sightings/new?of={}", f.red_address))
        .await;
    let body = form.html(200);
    assert!(
        body.contains("id=\"sighting-form\"") && body.contains(RED_ADDRESS),
        "{body}"
    );
    let token = form.csrf();

    // Invalid: shown again with the errors, nothing stored.
    let bad = ngo
        .post(
            "/console/sightings",
            &[
                ("csrf", token.as_str()),
                ("of", f.red_address.as_str()),
                ("seen_at", "2026-11-30T10:00"),
                ("count", "0"),
                ("context", "ad"),
                ("tlp", "red"),
            ],
        )
        .await;
    let body = bad.html(422);
    assert!(
        body.contains("id=\"form-errors\"") && body.contains("Nothing was stored"),
        "{body}"
    );

    // Shared with Safe Harbor only: Acme, the source, learns time and count.
    let stored = ngo
        .post(
            "/console/sightings",
            &[
                ("csrf", token.as_str()),
                ("of", f.red_address.as_str()),
                ("seen_at", "2026-11-30T10:00"),
                ("count", "3"),
                ("context", "ad"),
                ("tlp", "red"),
                ("organizations", "safeharbor"),
                ("description", "ad on a forum"),
            ],
        )
        .await;
    assert_eq!(stored.status, 303, "{}", stored.body);
    let sighting = stored.location_record();
    let page = ngo.get(stored.header("location").unwrap().as_str()).await;
    let body = page.html(200);
    assert!(body.contains("id=\"record-created\""), "{body}");
    assert!(
        body.contains("ad on a forum") && body.contains("TLP:RED"),
        "{body}"
    );
    let token_api = f.o.app.token(&f.o.safe_harbor).await;
    let api: Value =
        f.o.app
            .get(
                &f.o.safe_harbor,
                &format!("/v1/records/{sighting}"),
                Some(&token_api),
            )
            .await
            .body;
    assert_eq!(api["sighting"]["count"], 3);
    assert_eq!(api["sighting"]["of"], json!(f.red_address));
    assert_eq!(
        api["provenance"]["submitted_by"],
        json!("safeharbor-client")
    );

    let record = ngo
        .get(&format!("/console/records/{}", f.red_address))
        .await;
    assert!(
        record.html(200).contains("1 report(s), seen 3 time(s)"),
        "{}",
        record.body
    );
    let mut acme = Browser::new(&f.o.app, &f.o.acme.certificate);
    acme.sign_in(&f.o.acme).await;
    let record = acme
        .get(&format!("/console/records/{}", f.red_address))
        .await;
    let body = record.html(200);
    assert!(body.contains("id=\"sightings-unshared\""), "{body}");
    assert!(body.contains("2026-11-30 10:00:00 UTC × 3"), "{body}");
    assert!(
        !body.contains("ad on a forum"),
        "the source does not read it"
    );

    // A sighting of an address, from the address form.
    let form = ngo
        .get("/console/sightings/new?chain=eth&address=0x0000000000000000000000000000000000000abc")
        .await;
    let body = form.html(200);
    assert!(body.contains("id=\"sighting-address\""), "{body}");
    let stored = ngo
        .post(
            "/console/sightings",
            &[
                ("csrf", token.as_str()),
                ("chain", "eth"),
                ("address", "0x0000000000000000000000000000000000000ABC"),
                ("seen_at", "2026-11-30T11:00"),
                ("count", "1"),
                ("context", "deposit"),
                ("tlp", "green"),
                ("all_partners", "on"),
            ],
        )
        .await;
    assert_eq!(stored.status, 303, "{}", stored.body);
}

async fn every_page_renders_as_accessible_html(backend: TestBackend) {
    let f = fixture(backend).await;
    let mut acme = Browser::new(&f.o.app, &f.o.acme.certificate);
    let signin = acme.get("/console/signin").await;
    signin.html(200);
    acme.sign_in(&f.o.acme).await;
    let css = acme.get("/console/console.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(css.body.contains(".tlp-red"));
    let pages = [
        "/console/lookup".to_owned(),
        format!("/console/lookup?address={RED_ADDRESS}"),
        format!("/console/records/{}", f.red_address),
        format!("/console/sightings/new?of={}", f.red_address),
        "/console/sightings/new".to_owned(),
        "/console/records".to_owned(),
        "/console/records?q=lantern&kind=entity".to_owned(),
        "/console/new".to_owned(),
        "/console/submit".to_owned(),
        "/console/import".to_owned(),
    ];
    for path in &pages {
        let page = acme.get(path).await;
        let body = page.html(200);
        assert!(body.starts_with("<!doctype html>"), "{path}");
        assert!(body.contains("<html lang=\"en\">"), "{path}");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path}: no external asset"
        );
        assert!(page
            .header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'"));
        // Every input has a label.
        for input in body.split("<input ").skip(1) {
            let tag = &input[..input.find('>').unwrap()];
            if tag.contains("type=\"hidden\"") || tag.contains("type=\"radio\"") {
                continue;
            }
            let id = tag
                .split("id=\"")
                .nth(1)
                .map(|r| &r[..r.find('"').unwrap()]);
            let id = id.unwrap_or_else(|| panic!("{path}: an input without id: {tag}"));
            assert!(
                body.contains(&format!("for=\"{id}\"")),
                "{path}: no label for {id}"
            );
        }
    }
    let unknown = acme.get("/console/no-such-page").await;
    unknown.html(404);
}

crate::on_both_backends!(
    a_red_record_is_shown_to_its_recipient_and_hidden_from_others,
    lookup_and_list_screening_with_a_csv_download,
    a_sighting_reported_in_the_console_is_stored_with_its_own_sharing,
    every_page_renders_as_accessible_html,
);

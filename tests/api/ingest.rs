//! Getting records in and out: idempotent batch retries, minimal answers,
//! and (below) exports and counts.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use awc::http::Method;
use serde_json::{json, Value};
use tracewire::domain::OrganizationType;

fn address(n: usize) -> Value {
    json!({
        "kind": "address", "chain": "eth", "address": format!("0x{:040x}", 0xbeef_0000_u64 + n as u64),
        "categories": ["scam"], "confidence": 60, "tlp": "green", "method": "osint",
    })
}

async fn post_batch(
    app: &TestApp,
    org: &TestOrg,
    token: &str,
    headers: &[(&str, &str)],
    items: Vec<Value>,
) -> crate::helpers::Reply {
    app.send_json_with(
        org,
        Method::POST,
        "/v1/records",
        token,
        headers,
        json!({ "items": items }),
    )
    .await
}

async fn own_record_count(app: &TestApp, org: &TestOrg, token: &str) -> usize {
    let page = app
        .get(
            org,
            &format!("/v1/records?source={}&limit=1000", org.id),
            Some(token),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body["items"].as_array().unwrap().len()
}

/// A retried batch with the same Idempotency-Key stores nothing new and gets
/// the first answer; the key with another body is refused; a failed request
/// does not use up its key; keys belong to one organization.
async fn idempotency_key_makes_a_retry_safe(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let all = "indicators:read indicators:write";
    let acme = app.add_org("acme", OrganizationType::Forensics, all);
    let ngo = app.add_org("ngo", OrganizationType::Ngo, all);
    let token = app.token(&acme).await;
    let key = [("Idempotency-Key", "batch-0001")];

    let first = post_batch(&app, &acme, &token, &key, vec![address(1), address(2)]).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    assert_eq!(first.body["count"], 2);

    // The same items, keys in another order: the same request.
    let reordered: Vec<Value> = [1, 2]
        .iter()
        .map(|n| {
            let a = address(*n);
            json!({ "tlp": a["tlp"], "method": a["method"], "confidence": 60,
                    "categories": ["scam"], "address": a["address"], "chain": "eth", "kind": "address" })
        })
        .collect();
    let retry = post_batch(&app, &acme, &token, &key, reordered).await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(retry.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(retry.body["ids"], first.body["ids"]);
    assert_eq!(retry.body["items"], first.body["items"]);
    assert_eq!(own_record_count(&app, &acme, &token).await, 2);

    let other_body = post_batch(&app, &acme, &token, &key, vec![address(3)]).await;
    other_body.assert_problem(422, "idempotency-key-reused");
    assert_eq!(own_record_count(&app, &acme, &token).await, 2);

    // A rejected batch stores nothing, its key included: the corrected batch goes through.
    let mut bad = address(4);
    bad["address"] = json!("0xnot-an-address");
    let key2 = [("Idempotency-Key", "batch-0002")];
    post_batch(&app, &acme, &token, &key2, vec![address(4), bad])
        .await
        .assert_problem(422, "validation-failed");
    let fixed = post_batch(&app, &acme, &token, &key2, vec![address(4), address(5)]).await;
    assert_eq!(fixed.status, 201, "{}", fixed.body);
    assert!(fixed.headers.get("idempotent-replayed").is_none());
    assert_eq!(own_record_count(&app, &acme, &token).await, 4);

    // Another organization's key space is its own.
    let ngo_token = app.token(&ngo).await;
    let theirs = post_batch(&app, &ngo, &ngo_token, &key, vec![address(1)]).await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    assert!(theirs.headers.get("idempotent-replayed").is_none());

    // Malformed keys are refused before anything happens.
    let long = "k".repeat(256);
    post_batch(
        &app,
        &acme,
        &token,
        &[("Idempotency-Key", &long)],
        vec![address(9)],
    )
    .await
    .assert_problem(400, "bad-request");
    assert_eq!(own_record_count(&app, &acme, &token).await, 4);
}

/// Retries racing each other with one key store the batch once, and all get its ids.
async fn concurrent_retries_store_once(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let token = app.token(&acme).await;
    let items: Vec<Value> = (0..200).map(address).collect();
    let key = [("Idempotency-Key", "racing")];
    let replies = futures_util::future::join_all(
        (0..4).map(|_| post_batch(&app, &acme, &token, &key, items.clone())),
    )
    .await;
    let mut id_lists = Vec::new();
    for reply in &replies {
        assert_eq!(reply.status, 201, "{}", reply.body);
        id_lists.push(reply.body["ids"].clone());
    }
    assert!(
        id_lists.windows(2).all(|w| w[0] == w[1]),
        "all retries see one batch"
    );
    let replayed = replies
        .iter()
        .filter(|r| r.headers.get("idempotent-replayed").is_some())
        .count();
    assert_eq!(replayed, 3, "exactly one request wrote");
    assert_eq!(own_record_count(&app, &acme, &token).await, 200);
}

/// `Prefer: return=minimal` answers with the count and ids only.
async fn minimal_answer_has_ids_only(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let token = app.token(&acme).await;
    let reply = post_batch(
        &app,
        &acme,
        &token,
        &[("Prefer", "return=minimal")],
        vec![address(1), address(2), address(3)],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.headers.get("preference-applied").unwrap(),
        "return=minimal"
    );
    assert_eq!(reply.body["count"], 3);
    assert_eq!(reply.body["ids"].as_array().unwrap().len(), 3);
    assert!(reply.body.get("items").is_none(), "{}", reply.body);
    let id = reply.body["ids"][1].as_str().unwrap();
    let record = app
        .get(&acme, &format!("/v1/records/{id}"), Some(&token))
        .await;
    assert_eq!(record.status, 200);
    assert_eq!(record.body["address"], address(2)["address"]);
}

/// Exports page with a cursor, keep every column, and neutralise formulas;
/// counts follow the filters and refuse paging parameters.
async fn exports_page_and_counts_filter(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let token = app.token(&acme).await;
    let mut items: Vec<Value> = (0..5).map(address).collect();
    items[0]["description"] = json!("=HYPERLINK(\"http://evil\")");
    items[1]["categories"] = json!(["scam", "fraud"]);
    let created = post_batch(&app, &acme, &token, &[], items).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let ids: Vec<String> = created.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();

    let mut seen = Vec::new();
    let mut path = "/v1/records/export?format=csv&limit=2".to_owned();
    loop {
        let (status, headers, body) = app.get_text(&acme, &path, &token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            headers.get("content-type").unwrap(),
            "text/csv; charset=utf-8"
        );
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let columns: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(columns, tracewire::records::export::CSV_COLUMNS);
        for row in reader.records() {
            let row = row.unwrap();
            let get = |name: &str| {
                row.get(columns.iter().position(|c| c == name).unwrap())
                    .unwrap()
                    .to_owned()
            };
            if get("id") == ids[0] {
                assert_eq!(get("description"), "'=HYPERLINK(\"http://evil\")");
            }
            if get("id") == ids[1] {
                assert_eq!(get("categories"), "scam;fraud");
            }
            assert_eq!(get("source_organization"), "acme");
            assert_eq!(get("tlp"), "green");
            seen.push(get("id"));
        }
        match headers.get("x-next-cursor") {
            Some(next) => {
                let link = headers.get("link").unwrap().to_str().unwrap();
                assert!(
                    link.contains(&format!("after={}", next.to_str().unwrap())),
                    "{link}"
                );
                path = format!(
                    "/v1/records/export?format=csv&limit=2&after={}",
                    next.to_str().unwrap()
                );
            }
            None => break,
        }
    }
    assert_eq!(seen, ids, "every record once, in order");

    let (_, headers, body) = app
        .get_text(
            &acme,
            "/v1/records/export?format=jsonl&category=fraud",
            &token,
        )
        .await;
    assert_eq!(headers.get("content-type").unwrap(), "application/x-ndjson");
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], ids[1]);

    let count = app
        .get(&acme, "/v1/records/count?category=fraud", Some(&token))
        .await;
    assert_eq!(count.body["count"], 1);
    let count = app
        .get(&acme, "/v1/records/count?kind=address", Some(&token))
        .await;
    assert_eq!(count.body["count"], 5);
    app.get(&acme, "/v1/records/count?limit=5", Some(&token))
        .await
        .assert_problem(422, "validation-failed");
    app.get(&acme, "/v1/records?format=csv", Some(&token))
        .await
        .assert_problem(422, "validation-failed");
    app.get(&acme, "/v1/records/export?format=xlsx", Some(&token))
        .await
        .assert_problem(422, "validation-failed");
}

/// Runs `tracewire import` (the built binary) against the test server as
/// `org`, off the test's runtime thread (which also serves the requests).
pub async fn run_import(app: &TestApp, org: &TestOrg, args: &[&str]) -> (i32, String) {
    let dir = app.pki.dir.join(format!("import-{}", org.id));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), &app.pki.ca.cert_pem).unwrap();
    std::fs::write(dir.join("cert.pem"), &org.certificate.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &org.certificate.key_pem).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tracewire"));
    command
        .arg("import")
        .args(["--url", &app.url("")])
        .args(["--ca", dir.join("ca.pem").to_str().unwrap()])
        .args(["--cert", dir.join("cert.pem").to_str().unwrap()])
        .args(["--key", dir.join("key.pem").to_str().unwrap()])
        .args(["--client-id", &org.client_id])
        .args(args);
    let output = actix_web::rt::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// `tracewire import` stores every good line once, across batches, reports
/// each bad line with its reason, and applies the sharing defaults given.
async fn import_reports_rejected_lines_and_stores_the_rest(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let ngo = app.add_org("ngo", OrganizationType::Ngo, "indicators:read");
    let other = app.add_org("other", OrganizationType::Exchange, "indicators:read");
    let dir = tempfile::tempdir().unwrap();

    // JSON lines: 25 good records, two bad ones, in batches of 10.
    let mut text = String::new();
    for n in 0..25 {
        text.push_str(&address(n).to_string());
        text.push('\n');
        if n == 7 {
            text.push_str("{\"kind\":\"address\",\"chain\":\"btc\",\"address\":\"1BoatSLRHtKNngkdXEeobR76b53LETtpyX\"}\n");
        }
        if n == 17 {
            text.push_str("not json\n");
        }
    }
    let file = dir.path().join("case.jsonl");
    std::fs::write(&file, text).unwrap();
    let rejects = dir.path().join("rejects.tsv");
    let (status, output) = run_import(
        &app,
        &acme,
        &[
            file.to_str().unwrap(),
            "--batch-size",
            "10",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(status, 2, "{output}");
    assert!(
        output.contains("27 lines, 25 accepted, 2 rejected"),
        "{output}"
    );
    let rejected = std::fs::read_to_string(&rejects).unwrap();
    assert!(
        rejected.contains("case.jsonl:9\taddress: bad base58check checksum"),
        "{rejected}"
    );
    assert!(rejected.contains("case.jsonl:20\tnot JSON"), "{rejected}");
    let token = app.token(&acme).await;
    assert_eq!(own_record_count(&app, &acme, &token).await, 25);

    // CSV with sharing defaults: shared with the NGO only, at AMBER.
    let csv_file = dir.path().join("few.csv");
    std::fs::write(
        &csv_file,
        "address,chain,categories\n0x00000000000000000000000000000000000000c1,eth,scam;fraud\n",
    )
    .unwrap();
    let (status, output) = run_import(
        &app,
        &acme,
        &[
            csv_file.to_str().unwrap(),
            "--tlp",
            "amber",
            "--share-with",
            "ngo",
        ],
    )
    .await;
    assert_eq!(status, 0, "{output}");
    assert!(
        output.contains("1 lines, 1 accepted, 0 rejected"),
        "{output}"
    );
    let find = "/v1/records?address=0x00000000000000000000000000000000000000C1";
    let ngo_token = app.token(&ngo).await;
    let seen = app.get(&ngo, find, Some(&ngo_token)).await;
    assert_eq!(seen.body["items"][0]["tlp"], "amber", "{}", seen.body);
    assert_eq!(
        seen.body["items"][0]["categories"],
        json!(["scam", "fraud"])
    );
    let other_token = app.token(&other).await;
    let unseen = app.get(&other, find, Some(&other_token)).await;
    assert_eq!(unseen.body["items"], json!([]));

    // The OFAC lists (a directory): every valid line as a CLEAR sanctions record.
    let ofac =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo-data/ofac-sdn-addresses");
    let (status, output) = run_import(
        &app,
        &acme,
        &[ofac.to_str().unwrap(), "--batch-size", "500"],
    )
    .await;
    assert_eq!(status, 2, "{output}");
    assert!(
        output.contains("654 lines, 652 accepted, 2 rejected"),
        "{output}"
    );
    let count = app
        .get(
            &other,
            "/v1/records/count?category=sanctions&tlp=clear",
            Some(&other_token),
        )
        .await;
    assert_eq!(count.body["count"], 652);

    // A file that names an unknown column is refused as a whole, by name.
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, "adress\n0xabc\n").unwrap();
    let (status, output) = run_import(&app, &acme, &[bad_csv.to_str().unwrap()]).await;
    assert_eq!(status, 2, "{output}");
    assert!(output.contains("unknown column \"adress\""), "{output}");
}

crate::on_both_backends!(
    idempotency_key_makes_a_retry_safe,
    concurrent_retries_store_once,
    minimal_answer_has_ids_only,
    exports_page_and_counts_filter,
    import_reports_rejected_lines_and_stores_the_rest,
);

//! Private screening: hash prefixes in, every readable entry of those
//! buckets out; it matches exactly what plain screening matches, shows
//! only what the caller may read, and leaves nothing on the hub.
use crate::helpers::{TestBackend, TestDatabase, TestOrg};
use crate::process::ServerProcess;
use crate::records::{address_record, create, evm, sharing_cases, world, World};
use awc::http::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use tracewire::domain::chains::lookup_forms;
use tracewire::domain::private_screening::{bucket_of, key_hash, prefix_hex};

/// The link-key hashes of one input, by tracewire's own canonicalization.
fn hashes(chain: &str, address: &str) -> Vec<[u8; 32]> {
    let chain = (chain != "any").then_some(chain);
    let forms = lookup_forms(chain, address).expect("a valid address");
    let keys: BTreeSet<String> = forms.iter().flat_map(|f| f.link_keys()).collect();
    keys.iter().map(|k| key_hash(k)).collect()
}

/// What a reader learns about each input, in one comparable shape:
/// `sets` are the record, wallet, entity, category and source lists.
fn summary(matched: bool, sets: [BTreeSet<String>; 5], highest: Value, sightings: usize) -> Value {
    let [records, wallets, entities, categories, sources] = sets;
    json!({ "matched": matched, "records": records, "wallets": wallets, "entities": entities,
        "categories": categories, "sources": sources, "highest_confidence": highest,
        "sightings": sightings })
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Sends the prefixes of `inputs`' hashes; returns the raw answer.
async fn ask(w: &World, org: &TestOrg, prefixes: Vec<String>) -> crate::helpers::Reply {
    let token = w.app.token(org).await;
    w.app
        .send_json(
            org,
            Method::POST,
            "/v1/screen/private",
            &token,
            json!({ "version": 1, "prefixes": prefixes }),
        )
        .await
}

/// Screens `inputs` privately and matches locally, as a client would.
async fn private(w: &World, org: &TestOrg, inputs: &[(&str, String)]) -> (Vec<Value>, Value) {
    let all: Vec<Vec<[u8; 32]>> = inputs.iter().map(|(c, a)| hashes(c, a)).collect();
    let prefixes: BTreeSet<String> = all
        .iter()
        .flatten()
        .map(|h| prefix_hex(bucket_of(h)))
        .collect();
    let reply = ask(w, org, prefixes.into_iter().collect()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["version"], 1);
    assert_eq!(reply.body["prefix_bits"], 20);
    let by_hash: BTreeMap<String, &Value> = reply.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["hash"].as_str().unwrap().to_owned(), e))
        .collect();
    let mut out = Vec::new();
    for hashes in &all {
        let (mut matched, mut highest) = (false, Value::Null);
        let mut sets: [BTreeSet<String>; 5] = Default::default();
        let mut sightings = BTreeSet::new();
        for hash in hashes {
            let Some(entry) = by_hash.get(&hex::encode(hash)) else {
                continue;
            };
            matched |= entry["matched"].as_bool().unwrap();
            for (set, field) in
                sets.iter_mut()
                    .zip(["records", "wallets", "entities", "categories", "sources"])
            {
                set.extend(strings(&entry[field]));
            }
            if entry["highest_confidence"].as_u64() > highest.as_u64() {
                highest = entry["highest_confidence"].clone();
            }
            for seen in entry["sightings"].as_array().unwrap() {
                sightings.insert(seen["id"].as_str().unwrap().to_owned());
            }
        }
        out.push(summary(matched, sets, highest, sightings.len()));
    }
    (out, reply.body)
}

/// The same inputs through `POST /v1/screen`, in the same shape.
async fn plain(w: &World, org: &TestOrg, inputs: &[(&str, String)]) -> Vec<Value> {
    let items: Vec<Value> = inputs
        .iter()
        .map(|(c, a)| {
            if *c == "any" {
                json!({ "address": a })
            } else {
                json!({ "chain": c, "address": a })
            }
        })
        .collect();
    let token = w.app.token(org).await;
    let reply = w
        .app
        .send_json(
            org,
            Method::POST,
            "/v1/screen",
            &token,
            json!({ "items": items }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let ids = |list: &Value, path: &[&str]| -> BTreeSet<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let mut v = v;
                for p in path {
                    v = &v[*p];
                }
                v.as_str().unwrap().to_owned()
            })
            .collect()
    };
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            summary(
                r["matched"].as_bool().unwrap(),
                [
                    ids(&r["records"], &["id"]),
                    ids(&r["wallets"], &["record", "id"]),
                    ids(&r["entities"], &["record", "id"]),
                    strings(&r["categories"]),
                    strings(&r["sources"]),
                ],
                r["highest_confidence"].clone(),
                r["sightings"]["reports"].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

/// Every address form the plain screening tests use matches privately
/// exactly as it does in the clear, with the same wallets, entities,
/// categories, sources and sightings; misses miss in both.
async fn private_screening_matches_what_plain_screening_matches(backend: TestBackend) {
    let w = world(backend).await;
    let hex = "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
    let mut bch = address_record("", "green", json!({}));
    bch["chain"] = json!("bch");
    bch["address"] = json!("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a");
    let mut ltc = address_record("", "green", json!({}));
    ltc["chain"] = json!("ltc");
    ltc["address"] = json!("MQMHBtvnBfxTzt3K2bdxgSE7qZPHSXWsGM");
    let wallet = json!({ "kind": "wallet", "chain": "eth", "name": "Cluster", "categories": ["darknet_market"],
        "confidence": 70, "tlp": "green", "method": "blockchain_analysis" });
    let entity = json!({ "kind": "entity", "name": "Market X", "entity_type": "market", "categories": ["csam"],
        "confidence": 90, "tlp": "green", "attribution": "anonymous", "method": "investigation" });
    let created = create(
        &w.app,
        &w.acme,
        vec![
            address_record(&format!("0x{hex}"), "green", json!({})),
            bch,
            ltc,
            wallet,
            entity,
        ],
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let ids: Vec<String> = created.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let link = |relation: &str, from: &str, to: &str| {
        json!({ "kind": "relationship", "relation": relation, "from": from, "to": to,
            "confidence": 60, "tlp": "green", "method": "blockchain_analysis" })
    };
    let links = create(
        &w.app,
        &w.acme,
        vec![
            link("member_of", &ids[0], &ids[3]),
            link("attributed_to", &ids[3], &ids[4]),
        ],
    )
    .await;
    assert_eq!(links.status, 201, "{}", links.body);
    // A sighting by address from another exchange (readable by all: green).
    let sighter = w.app.add_org(
        "sighter",
        tracewire::domain::OrganizationType::Exchange,
        "indicators:read sightings:write",
    );
    let token = w.app.token(&sighter).await;
    let sighting = w
        .app
        .send_json(
            &sighter,
            Method::POST,
            "/v1/sightings",
            &token,
            json!({ "chain": "bsc", "address": format!("0x{hex}"), "seen_at": "2026-11-30T10:00:00Z",
                "count": 3, "context": "deposit", "tlp": "green" }),
        )
        .await;
    assert_eq!(sighting.status, 201, "{}", sighting.body);

    let mut payload = vec![0x41u8];
    payload.extend(hex::decode(hex).unwrap());
    let tron = bs58::encode(payload).with_check().into_string();
    let inputs: Vec<(&str, String)> = vec![
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
        ("ltc", "MQMHBtvnBfxTzt3K2bdxgSE7qZPHSXWsGM".to_owned()),
        ("ltc", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy".to_owned()),
        // Misses: valid addresses nobody filed.
        ("eth", evm(77)),
        ("btc", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2".to_owned()),
    ];
    for reader in [&w.exchange, &w.acme, &w.ngo] {
        let (privately, _) = private(&w, reader, &inputs).await;
        let clearly = plain(&w, reader, &inputs).await;
        for ((input, p), c) in inputs.iter().zip(&privately).zip(&clearly) {
            assert_eq!(p, c, "{} {input:?}", reader.id);
        }
        let matched: Vec<bool> = privately.iter().map(|p| p["matched"] == true).collect();
        assert_eq!(
            matched,
            [true, true, true, true, true, true, true, true, false, false]
        );
        // The wallet and the (anonymous) entity come through the links; the
        // anonymous source is not named; the sighting counts.
        assert_eq!(privately[0]["wallets"], json!([ids[3]]));
        assert_eq!(privately[0]["entities"], json!([ids[4]]));
        assert_eq!(privately[0]["sources"], json!(["acme"]));
        assert_eq!(privately[0]["sightings"], 1);
    }
}

/// The TLP × audience × relation matrix: an entry appears exactly for the
/// readers who may read the record, and the buckets hold nothing else, so
/// their sizes say nothing about what a reader may not see.
async fn private_screening_respects_the_sharing_rules(backend: TestBackend) {
    let w = world(backend).await;
    let cases = sharing_cases();
    let items: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (tlp, audience, _))| address_record(&evm(i), tlp, audience.clone()))
        .collect();
    let created = create(&w.app, &w.acme, items).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let inputs: Vec<(&str, String)> = (0..cases.len()).map(|i| ("eth", evm(i))).collect();
    let readers = [&w.acme, &w.ngo, &w.member, &w.exchange, &w.hub];
    for (r, reader) in readers.iter().enumerate() {
        let (found, answer) = private(&w, reader, &inputs).await;
        let mut expected_hashes = BTreeSet::new();
        for (i, case) in cases.iter().enumerate() {
            let what = format!("{} {} {}", reader.id, case.0, case.1);
            let expected = case.2[r];
            assert_eq!(found[i]["matched"], expected, "{what}: {}", found[i]);
            if expected {
                assert_eq!(
                    found[i]["categories"],
                    json!(["human_trafficking"]),
                    "{what}"
                );
                assert_eq!(found[i]["sources"], json!(["acme"]), "{what}");
                expected_hashes.extend(hashes("eth", &evm(i)).iter().map(hex::encode));
            } else {
                assert_eq!(found[i]["records"], json!([]), "{what}");
                assert_eq!(found[i]["highest_confidence"], Value::Null, "{what}");
            }
        }
        // Exactly the readable entries, nothing more: no entry, and so no
        // bucket size, stems from a record hidden from the reader.
        let got: BTreeSet<String> = answer["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["hash"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, expected_hashes, "{}", reader.id);
    }
}

/// Malformed requests are refused whole with a 422 naming the field (and
/// without echoing a prefix back).
async fn private_screening_refuses_malformed_requests(backend: TestBackend) {
    let w = world(backend).await;
    let token = w.app.token(&w.exchange).await;
    let send = |body: Value| {
        let (app, org, token) = (&w.app, &w.exchange, token.clone());
        async move {
            app.send_json(org, Method::POST, "/v1/screen/private", &token, body)
                .await
        }
    };
    let too_many: Vec<String> = (0..10_001).map(|i| format!("{:05x}", i)).collect();
    let cases = [
        (json!({ "version": 2, "prefixes": ["abcde"] }), "version"),
        (json!({ "version": 1, "prefixes": [] }), "prefixes"),
        (json!({ "version": 1, "prefixes": too_many }), "prefixes"),
        (json!({ "version": 1, "prefixes": ["abcd"] }), "prefixes"),
        (json!({ "version": 1, "prefixes": ["abcdef"] }), "prefixes"),
        (json!({ "version": 1, "prefixes": ["abcdz"] }), "prefixes"),
    ];
    for (body, field) in cases {
        let reply = send(body.clone()).await;
        reply.assert_problem(422, "validation-failed");
        assert_eq!(reply.body["errors"][0]["field"], field, "{body}");
        assert!(!reply.body.to_string().contains("abcd"), "{}", reply.body);
    }
    // An unknown field is refused too (a client that sends addresses by mistake).
    let reply = send(json!({ "version": 1, "prefixes": ["abcde"], "addresses": [evm(1)] })).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    // Reading needs indicators:read like plain screening: a token without it is refused.
    let hubless = w.app.add_org(
        "nobody",
        tracewire::domain::OrganizationType::Other,
        "sightings:write",
    );
    let token = w.app.token(&hubless).await;
    let reply = w
        .app
        .send_json(
            &hubless,
            Method::POST,
            "/v1/screen/private",
            &token,
            json!({ "version": 1, "prefixes": ["abcde"] }),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
}

/// Every file under `dir`, as bytes (the SQLite database, its WAL, the log).
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    found
}

/// Every row of every table of a PostgreSQL test schema, as text.
fn postgres_rows(url: &str) -> String {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let mut conn = diesel::PgConnection::establish(url).unwrap();
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .load(&mut conn)
    .unwrap();
    assert!(tables.iter().any(|t| t.name == "audit_log"));
    let mut text = String::new();
    for table in tables {
        let lines: Vec<Line> = diesel::sql_query(format!(
            "SELECT row_to_json(t)::text AS line FROM \"{}\" t",
            table.name
        ))
        .load(&mut conn)
        .unwrap();
        for line in lines {
            text.push_str(&line.line);
            text.push('\n');
        }
    }
    text
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `tracewire screen` (the real binary) screens a file privately as a
/// partner; afterwards neither the database (files or rows), nor the
/// server's log at debug level, nor the audit log, nor /metrics holds any
/// screened address, its link key, its full hash or its prefix. The same
/// file screened with --plain gives the same report. Exit status: 0 when
/// nothing matched, 1 when something did.
async fn private_screening_leaves_nothing_on_the_hub(backend: TestBackend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path());
    let mut server = ServerProcess::start_logging(dir.path(), &database.url, "", "debug").await;
    let token = server.token().await;
    let hit = evm(4242);
    let filed = server
        .send_json(
            "/v1/records",
            &token,
            json!({ "items": [address_record(&hit, "green", json!({}))] }),
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);

    // Addresses nobody filed, on several chains, as a customer book would hold them.
    let misses: Vec<String> = (0..12)
        .map(|i| {
            let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("customer-{i}").as_bytes());
            match i % 3 {
                0 => format!("0x{}", hex::encode(&digest[..20])),
                1 => {
                    let mut payload = vec![0x00];
                    payload.extend_from_slice(&digest[..20]);
                    bs58::encode(payload).with_check().into_string()
                }
                _ => {
                    let mut payload = vec![0x41];
                    payload.extend_from_slice(&digest[..20]);
                    bs58::encode(payload).with_check().into_string()
                }
            }
        })
        .collect();
    let client = dir.path().join("client");
    std::fs::create_dir_all(&client).unwrap();
    let partner = &server.partner;
    std::fs::write(client.join("cert.pem"), &partner.certificate.cert_pem).unwrap();
    std::fs::write(client.join("key.pem"), &partner.certificate.key_pem).unwrap();
    let book = client.join("book.txt");
    std::fs::write(
        &book,
        format!("# customer deposit addresses\n{}\n", misses.join("\n")),
    )
    .unwrap();
    let screen = |file: &Path, extra: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracewire"))
            .arg("screen")
            .arg(file)
            .args(["--url", &server.url("")])
            .arg("--ca")
            .arg(server.pki.dir.join("ca.pem"))
            .arg("--cert")
            .arg(client.join("cert.pem"))
            .arg("--key")
            .arg(client.join("key.pem"))
            .args(["--client-id", &partner.client_id])
            .arg("--decoy-seed")
            .arg(client.join("seed"))
            .args(extra)
            .env_remove("TRACEWIRE_URL")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (code, report, summary) = screen(&book, &["--report", "jsonl"]);
    assert_eq!(code, Some(0), "{report}\n{summary}");
    let rows: Vec<Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), misses.len(), "{report}");
    assert!(rows.iter().all(|r| r["matched"] == false), "{report}");
    assert!(summary.contains("privately (64 prefixes sent"), "{summary}");

    // With the filed address among them: exit status 1, and the same
    // answer as --plain (CSV report).
    let mixed = client.join("mixed.csv");
    std::fs::write(
        &mixed,
        format!("customer,deposit\nc1,{}\nc2,{hit}\n", misses[0]),
    )
    .unwrap();
    let (code, private_csv, summary) = screen(&mixed, &["--column", "deposit", "--report", "csv"]);
    assert_eq!(code, Some(1), "{private_csv}\n{summary}");
    let (code, plain_csv, _) = screen(
        &mixed,
        &["--column", "deposit", "--report", "csv", "--plain"],
    );
    assert_eq!(code, Some(1));
    assert_eq!(private_csv, plain_csv);
    assert!(
        private_csv.contains(",true,human_trafficking,80,acme,"),
        "{private_csv}"
    );
    let (_, table, _) = screen(&mixed, &["--column", "deposit", "--matches-only"]);
    assert!(
        table.contains("MATCH") && !table.contains(&misses[0]),
        "{table}"
    );

    // The hub's side: the audit entry says who asked and how many prefixes.
    let metrics = server.ops_get_text("/metrics").await;
    server.signal("TERM");
    server
        .wait_for_exit(std::time::Duration::from_secs(20))
        .await;
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for address in &misses {
        let forms = lookup_forms(None, address).unwrap();
        needles.push((address.clone(), address.as_bytes().to_vec()));
        for form in &forms {
            needles.push((
                form.canonical().to_owned(),
                form.canonical().as_bytes().to_vec(),
            ));
            for key in form.link_keys() {
                let hash = key_hash(&key);
                needles.push((key.clone(), key.as_bytes().to_vec()));
                needles.push((hex::encode(hash), hex::encode(hash).into_bytes()));
                needles.push((format!("raw hash of {key}"), hash.to_vec()));
                // The first 16 bytes of the hash, as base64 and hex: any shortened form.
                needles.push((
                    format!("hex16 of {key}"),
                    hex::encode(&hash[..16]).into_bytes(),
                ));
            }
        }
        // The bare 20-byte body of the EVM / TRON forms.
        if let Some(body) = address.strip_prefix("0x") {
            needles.push((body.to_owned(), body.as_bytes().to_vec()));
        }
    }
    let mut haystacks = files_under(dir.path())
        .into_iter()
        .filter(|(name, _)| !name.starts_with(&client.display().to_string()))
        .collect::<Vec<_>>();
    assert!(haystacks
        .iter()
        .any(|(name, _)| name.ends_with("server.log")));
    haystacks.push(("metrics".into(), metrics.into_bytes()));
    if !matches!(backend, TestBackend::Sqlite) {
        haystacks.push((
            "postgres rows".into(),
            postgres_rows(&database.url).into_bytes(),
        ));
    }
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(
        log.contains("/v1/screen/private"),
        "the log is at debug level and saw the requests"
    );
    for (what, needle) in &needles {
        for (name, haystack) in &haystacks {
            assert!(!contains(haystack, needle), "{what} found in {name}");
        }
    }
    // The audit entries of the private screens: caller, time, prefix count.
    let db = tracewire::startup::open_database(&server.settings).unwrap();
    let mut conn = db.get().unwrap();
    let entries: Vec<_> = tracewire::storage::audit::entries_after(&mut conn, 0, 100_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "screen_private")
        .collect();
    assert_eq!(entries.len(), 3, "{entries:?}");
    for entry in &entries {
        assert_eq!(entry.organization, "acme");
        assert_eq!(entry.record_ids, "[]");
        let detail: Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail, json!({ "prefixes": 64, "version": 1 }), "{detail}");
    }
}

/// The protocol as documented works without tracewire's code: the Python
/// example of docs/private-screening.md (standard library only) screens
/// privately and finds what plain screening finds.
async fn the_documented_python_client_screens_privately(backend: TestBackend) {
    let python = std::env::var("TRACEWIRE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    if std::process::Command::new(&python)
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs {python} for the documented example"
        );
        eprintln!("skipped: no {python}");
        return;
    }
    let w = world(backend).await;
    let filed = [
        ("eth", "0x52908400098527886E0F7030069857D2E4169EE7"),
        ("btc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
    ];
    let mut items = Vec::new();
    for (chain, address) in filed {
        let mut item = address_record(address, "amber", json!({ "organizations": ["exchange"] }));
        item["chain"] = json!(chain);
        items.push(item);
    }
    let created = create(&w.app, &w.acme, items).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let run = |org: &TestOrg| {
        std::fs::write(&cert, &org.certificate.cert_pem).unwrap();
        std::fs::write(&key, &org.certificate.key_pem).unwrap();
        let output = std::process::Command::new(&python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/docs/examples/private_screen.py"
            ))
            .args(["--url", &w.app.url("")])
            .arg("--ca")
            .arg(w.app.pki.dir.join("ca.pem"))
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .args(["--client-id", &org.client_id])
            .args([
                // The same Ethereum address as a BSC address, lower case; the
                // bech32 address in upper case; a TRON address nobody filed.
                "bsc:0x52908400098527886e0f7030069857d2e4169ee7",
                "btc:BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
                "trx:TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let rows: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (
            output.status.code(),
            rows,
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    // Shared with the exchange: it finds both; AMBER, so Northwind-like
    // outsiders (here: member) find nothing.
    let (code, rows, stderr) = run(&w.exchange);
    assert_eq!(code, Some(1), "{rows:?} {stderr}");
    let matched: Vec<bool> = rows.iter().map(|r| r["matched"] == true).collect();
    assert_eq!(matched, [true, true, false], "{rows:?}");
    assert_eq!(rows[0]["sources"], json!(["acme"]));
    let (code, rows, stderr) = run(&w.member);
    assert_eq!(code, Some(0), "{rows:?} {stderr}");
    assert!(rows
        .iter()
        .all(|r| r["matched"] == false && r["records"] == json!([])));
}

crate::on_both_backends!(
    the_documented_python_client_screens_privately,
    private_screening_matches_what_plain_screening_matches,
    private_screening_respects_the_sharing_rules,
    private_screening_refuses_malformed_requests,
    private_screening_leaves_nothing_on_the_hub,
);

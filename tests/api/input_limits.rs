//! Bad input is refused, field by field, before anything is stored: control
//! characters, oversized strings and lists, impossible dates; and the HTTP
//! layer's own refusals are problem documents too.
use crate::helpers::{client_tls_config, read_json, Reply, TestApp, TestBackend, TestOrg};
use crate::records::{address_record, create, evm, world};
use awc::http::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `head` (request line and header fields, without the blank line)
/// over raw HTTP/1.1 with `org`'s certificate: awc refuses to send what
/// these tests send. Answers the status, the head, and the body as JSON.
async fn raw(app: &TestApp, org: &TestOrg, head: &str) -> (u16, String, Value) {
    let config = client_tls_config(&app.pki.ca.cert_pem, Some(&org.certificate));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.api_port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn assert_raw_problem(answer: &(u16, String, Value), status: u16, slug: &str) {
    assert_eq!(answer.0, status, "{answer:?}");
    assert!(
        answer.1.contains("content-type: application/problem+json"),
        "{answer:?}"
    );
    assert_eq!(
        answer.2["type"],
        format!("urn:tracewire:problem:{slug}"),
        "{answer:?}"
    );
}

fn entity(name: &str) -> Value {
    json!({
        "kind": "entity", "name": name, "entity_type": "market",
        "categories": ["darknet_market"], "confidence": 70,
        "tlp": "green", "method": "osint",
    })
}

/// The (index, field) pairs of a 422.
fn refused_fields(reply: &Reply) -> BTreeSet<(u64, String)> {
    reply.assert_problem(422, "validation-failed");
    reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap_or(0),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn count(app: &TestApp, org: &TestOrg) -> i64 {
    let token = app.token(org).await;
    let reply = app.get(org, "/v1/records/count", Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["count"].as_i64().unwrap()
}

async fn control_characters_are_refused_by_field(backend: TestBackend) {
    let w = world(backend).await;
    let mut with_alias = entity("Hydra");
    with_alias["aliases"] = json!(["ok", "hy\u{0}dra"]);
    let mut description = address_record(&evm(1), "green", json!({}));
    description["description"] = json!("seen in\u{0} an ad");
    let mut reference = address_record(&evm(2), "green", json!({}));
    reference["external_references"] =
        json!([{"source_name": "case\u{7}", "url": "https://example.org/\u{0}"}]);
    let mut escape = address_record(&evm(3), "green", json!({}));
    escape["source_reference"] = json!("case\u{1b}[31m 7");
    let mut tab_in_name = entity("Hy\tdra");
    tab_in_name["description"] = json!("carriage\rreturn");
    let items = vec![
        entity("Hy\u{0}dra"),
        with_alias,
        description,
        reference,
        escape,
        tab_in_name,
    ];
    let reply = create(&w.app, &w.acme, items).await;
    let fields = refused_fields(&reply);
    let expected: BTreeSet<(u64, String)> = [
        (0, "name"),
        (1, "aliases/1"),
        (2, "description"),
        (3, "external_references/0/source_name"),
        (3, "external_references/0/url"),
        (4, "source_reference"),
        (5, "name"),
        (5, "description"),
    ]
    .into_iter()
    .map(|(i, f)| (i, f.to_owned()))
    .collect();
    assert_eq!(fields, expected, "{}", reply.body);
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("U+0000"),
        "{}",
        reply.body
    );
    assert_eq!(count(&w.app, &w.acme).await, 0, "nothing stored");

    // Free text keeps its tabs and line feeds.
    let mut multiline = entity("Hydra");
    multiline["description"] = json!("line one\n\tline two");
    let stored = create(&w.app, &w.acme, vec![multiline]).await;
    assert_eq!(stored.status, 201, "{}", stored.body);
    assert_eq!(
        stored.body["items"][0]["description"],
        "line one\n\tline two"
    );

    // Updates are checked the same way.
    let id = stored.body["ids"][0].as_str().unwrap();
    let token = w.app.token(&w.acme).await;
    let update = w
        .app
        .send_json(
            &w.acme,
            Method::PUT,
            &format!("/v1/records/{id}"),
            &token,
            entity("Hydra\u{0}"),
        )
        .await;
    update.assert_problem(422, "validation-failed");
    assert_eq!(update.body["errors"][0]["field"], "name");
}

async fn control_characters_in_queries_and_paths_are_refused(backend: TestBackend) {
    let w = world(backend).await;
    let token = w.app.token(&w.acme).await;
    let search = w.app.get(&w.acme, "/v1/records?q=%00", Some(&token)).await;
    search.assert_problem(422, "validation-failed");
    assert_eq!(search.body["errors"][0]["field"], "q", "{}", search.body);
    w.app
        .get(&w.acme, "/v1/records?q=a%1Fb&kind=entity", Some(&token))
        .await
        .assert_problem(422, "validation-failed");
    // In a path parameter: a 422 naming it; elsewhere in the path: a 400.
    for path in ["/v1/records/%00", "/v1/records/a%0Ab/revisions"] {
        let reply = w.app.get(&w.acme, path, Some(&token)).await;
        reply.assert_problem(422, "validation-failed");
        assert_eq!(reply.body["errors"][0]["field"], "id", "{}", reply.body);
    }
    let admin = w.app.token(&w.hub).await;
    let member = w
        .app
        .send_json(
            &w.hub,
            Method::PUT,
            "/v1/admin/communities/at/members/x%7F",
            &admin,
            json!({}),
        )
        .await;
    member.assert_problem(422, "validation-failed");
    assert_eq!(member.body["errors"][0]["field"], "organization");
    w.app
        .get(&w.acme, "/v1/rec%00ords", Some(&token))
        .await
        .assert_problem(400, "bad-request");
    // Invalid UTF-8 after percent-decoding is a 400, not replaced silently.
    w.app
        .get(&w.acme, "/v1/records?q=%FF%FE", Some(&token))
        .await
        .assert_problem(400, "bad-request");
    w.app
        .get(&w.acme, "/v1/records/%C3%28", Some(&token))
        .await
        .assert_problem(400, "bad-request");
    // Plain UTF-8 text still searches.
    let ok = w
        .app
        .get(&w.acme, "/v1/records?q=caf%C3%A9+bar", Some(&token))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

async fn strings_and_lists_have_maximums(backend: TestBackend) {
    let w = world(backend).await;
    let mut long_url = address_record(&evm(1), "green", json!({}));
    long_url["external_references"] = json!([
        {"source_name": "ok", "url": "https://example.org/a"},
        {"source_name": "big", "url": format!("https://example.org/{}", "a".repeat(1_000_000))},
    ]);
    let mut many_references = address_record(&evm(2), "green", json!({}));
    many_references["external_references"] = json!((0..51)
        .map(|i| json!({"source_name": format!("s{i}")}))
        .collect::<Vec<_>>());
    let mut many_aliases = entity("Hydra");
    many_aliases["aliases"] = json!((0..1_000).map(|i| format!("a{i}")).collect::<Vec<_>>());
    let mut long_alias = entity("Hydra");
    long_alias["aliases"] = json!(["short", "x".repeat(501)]);
    let mut long_description = address_record(&evm(3), "green", json!({}));
    long_description["description"] = json!("d".repeat(10_001));
    let mut many_derived = address_record(&evm(4), "green", json!({}));
    many_derived["derived_from"] = json!((0..101)
        .map(|_| "0192f000-0000-7000-8000-000000000000")
        .collect::<Vec<_>>());
    let mut many_categories = address_record(&evm(5), "green", json!({}));
    many_categories["categories"] = json!(vec!["scam"; 15]);
    let mut long_name = entity(&"n".repeat(501));
    long_name["audience"] = json!({});
    let mut long_source = address_record(&evm(6), "green", json!({}));
    long_source["external_references"] =
        json!([{"source_name": "s".repeat(501), "external_id": "e".repeat(501)}]);
    let mut many_recipients = address_record(&evm(7), "red", json!({}));
    many_recipients["audience"] = json!({
        "organizations": (0..101).map(|i| format!("org-{i}")).collect::<Vec<_>>()
    });
    let items = vec![
        long_url,
        many_references,
        many_aliases,
        long_alias,
        long_description,
        many_derived,
        many_categories,
        long_name,
        long_source,
        many_recipients,
    ];
    let reply = create(&w.app, &w.acme, items).await;
    let fields = refused_fields(&reply);
    let expected: BTreeSet<(u64, String)> = [
        (0, "external_references/1/url"),
        (1, "external_references"),
        (2, "aliases"),
        (3, "aliases/1"),
        (4, "description"),
        (5, "derived_from"),
        (6, "categories"),
        (7, "name"),
        (8, "external_references/0/source_name"),
        (8, "external_references/0/external_id"),
        (9, "audience.organizations"),
    ]
    .into_iter()
    .map(|(i, f)| (i, f.to_owned()))
    .collect();
    assert_eq!(fields, expected, "{}", reply.body);
    // One error per offending field, not one per item of a huge list, and
    // no huge value echoed back.
    let text = reply.body.to_string();
    assert!(text.len() < 10_000, "{} bytes", text.len());
    assert_eq!(count(&w.app, &w.acme).await, 0, "nothing stored");

    // At the maximums, everything is stored.
    let mut at_max = entity("Hydra");
    at_max["aliases"] = json!((0..100).map(|i| format!("a{i}")).collect::<Vec<_>>());
    at_max["description"] = json!("d".repeat(10_000));
    at_max["external_references"] = json!((0..50)
        .map(|i| json!({"source_name": format!("s{i}"), "url": format!("https://example.org/{}", "u".repeat(2_000))}))
        .collect::<Vec<_>>());
    let stored = create(&w.app, &w.acme, vec![at_max]).await;
    assert_eq!(stored.status, 201, "{}", stored.body);
}

async fn instants_outside_1970_to_9999_are_refused(backend: TestBackend) {
    let w = world(backend).await;
    let mut ancient = address_record(&evm(1), "green", json!({}));
    ancient["valid_from"] = json!("-9999-01-01T00:00:00Z");
    let mut before_epoch = address_record(&evm(2), "green", json!({}));
    before_epoch["valid_until"] = json!("1969-12-31T23:59:59Z");
    let mut observed = address_record(&evm(3), "green", json!({}));
    observed["observed_at"] = json!("0001-01-01T00:00:00Z");
    let sighting = json!({
        "kind": "sighting", "chain": "eth", "address": evm(4),
        "seen_at": "-9999-06-01T00:00:00Z", "context": "deposit",
        "confidence": 50, "tlp": "green", "method": "sighting",
    });
    let token = w.app.token(&w.acme).await;
    let reply = create(&w.app, &w.acme, vec![ancient, before_epoch, observed]).await;
    let fields = refused_fields(&reply);
    let expected: BTreeSet<(u64, String)> =
        [(0, "valid_from"), (1, "valid_until"), (2, "observed_at")]
            .into_iter()
            .map(|(i, f)| (i, f.to_owned()))
            .collect();
    assert_eq!(fields, expected, "{}", reply.body);
    let sightings = w.app.add_org(
        "sighter",
        tracewire::domain::OrganizationType::Exchange,
        "sightings:write indicators:read",
    );
    let sighter_token = w.app.token(&sightings).await;
    let reply = w
        .app
        .send_json(
            &sightings,
            Method::POST,
            "/v1/sightings",
            &sighter_token,
            json!({ "items": [sighting] }),
        )
        .await;
    let fields = refused_fields(&reply);
    assert!(
        fields.contains(&(0, "seen_at".to_owned())),
        "{}",
        reply.body
    );
    // The same range holds for the list's `updated_since`.
    w.app
        .get(
            &w.acme,
            "/v1/records?updated_since=-9999-01-01T00:00:00Z",
            Some(&token),
        )
        .await
        .assert_problem(422, "validation-failed");
    assert_eq!(count(&w.app, &w.acme).await, 0);

    let mut edges = address_record(&evm(5), "green", json!({}));
    edges["valid_from"] = json!("1970-01-01T00:00:00Z");
    edges["valid_until"] = json!("9999-12-31T23:59:59Z");
    let stored = create(&w.app, &w.acme, vec![edges]).await;
    assert_eq!(stored.status, 201, "{}", stored.body);
}

async fn http_layer_refusals_are_problems(backend: TestBackend) {
    let w = world(backend).await;
    let app = &w.app;
    let token = app.token(&w.acme).await;
    let client = app.client(Some(&w.acme.certificate));

    // A 20 KB query, or path: 414. (Over 64 KiB the HTTP/1.1 parser
    // refuses the request itself: see `http_parser.rs`.)
    let auth = format!("Host: localhost\r\nAuthorization: Bearer {token}");
    let long_query = format!(
        "GET /v1/records?q={} HTTP/1.1\r\n{auth}",
        "a".repeat(20_000)
    );
    assert_raw_problem(&raw(app, &w.acme, &long_query).await, 414, "uri-too-long");
    let long_path = format!("GET /v1/records/{} HTTP/1.1\r\n{auth}", "a".repeat(20_000));
    assert_raw_problem(&raw(app, &w.acme, &long_path).await, 414, "uri-too-long");

    // 40 KB of header fields: 431.
    let huge = format!(
        "GET /v1/whoami HTTP/1.1\r\n{auth}\r\nX-Padding: {}",
        "p".repeat(40_000)
    );
    assert_raw_problem(
        &raw(app, &w.acme, &huge).await,
        431,
        "header-fields-too-large",
    );
    let many = format!(
        "GET /v1/whoami HTTP/1.1\r\n{auth}\r\n{}",
        (0..20)
            .map(|i| format!("X-Padding-{i}: {}", "p".repeat(2_000)))
            .collect::<Vec<_>>()
            .join("\r\n")
    );
    assert_raw_problem(
        &raw(app, &w.acme, &many).await,
        431,
        "header-fields-too-large",
    );
    // Still answered normally below the limit.
    let fine = raw(app, &w.acme, &format!("GET /v1/whoami HTTP/1.1\r\n{auth}")).await;
    assert_eq!(fine.0, 200, "{fine:?}");

    // Wrong method on an existing path: 405 with Allow; TRACE too.
    let wrong = client
        .delete(app.url("/v1/records"))
        .bearer_auth(&token)
        .send();
    let wrong = Reply::from(read_json(wrong.await).await.unwrap());
    wrong.assert_problem(405, "method-not-allowed");
    assert_eq!(
        wrong.headers.get("allow").unwrap().to_str().unwrap(),
        "GET, POST"
    );
    let id = "0192f000-0000-7000-8000-000000000000";
    let trace = client
        .request(Method::TRACE, app.url(&format!("/v1/records/{id}")))
        .bearer_auth(&token)
        .send();
    let trace = Reply::from(read_json(trace.await).await.unwrap());
    trace.assert_problem(405, "method-not-allowed");
    assert_eq!(
        trace.headers.get("allow").unwrap().to_str().unwrap(),
        "GET, PUT"
    );
    let admin_path = client
        .post(app.url("/v1/admin/keys"))
        .bearer_auth(&token)
        .send();
    let admin_path = Reply::from(read_json(admin_path.await).await.unwrap());
    admin_path.assert_problem(405, "method-not-allowed");
    assert_eq!(admin_path.headers.get("allow").unwrap(), "GET");
    // TAXII answers 405 in its own error format, with Allow.
    let taxii = client
        .delete(app.url("/taxii2/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(taxii.status(), 405);
    assert_eq!(taxii.headers().get("allow").unwrap(), "GET");
    assert!(taxii
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/taxii+json"));
    // The operations listener's paths are not on the API listener: 404.
    let ops_path = client.post(app.url("/healthz")).bearer_auth(&token).send();
    Reply::from(read_json(ops_path.await).await.unwrap()).assert_problem(404, "not-found");
    // A path that does not exist stays a 404.
    app.get(&w.acme, "/v1/no-such-thing", Some(&token))
        .await
        .assert_problem(404, "not-found");

    // `text/json` is not JSON's media type: 415, nothing stored.
    let body = json!({"items": [address_record(&evm(1), "green", json!({}))]}).to_string();
    let text_json = client
        .post(app.url("/v1/records"))
        .bearer_auth(&token)
        .content_type("text/json")
        .send_body(body.clone());
    Reply::from(read_json(text_json.await).await.unwrap())
        .assert_problem(415, "unsupported-media-type");
    let suffixed = client
        .post(app.url("/v1/records"))
        .bearer_auth(&token)
        .content_type("application/vnd.example+json")
        .send_body(body);
    assert_eq!(suffixed.await.unwrap().status(), 201);

    // A malformed cursor is a 400, not silently the first page; the
    // `next` of a page is followed.
    for bad in [
        "nonsense",
        "%27%20or%201=1",
        "0192F000-0000-7000-8000-000000000000",
    ] {
        let reply = app
            .get(&w.acme, &format!("/v1/records?after={bad}"), Some(&token))
            .await;
        assert_eq!(reply.status, 400, "after={bad}: {}", reply.body);
        reply.assert_problem(400, "bad-request");
    }
    let second = create(
        app,
        &w.acme,
        vec![address_record(&evm(2), "green", json!({}))],
    )
    .await;
    assert_eq!(second.status, 201, "{}", second.body);
    let first = app.get(&w.acme, "/v1/records?limit=1", Some(&token)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let next = first.body["next"].as_str().expect("a second page");
    let page = app
        .get(
            &w.acme,
            &format!("/v1/records?limit=1&after={next}"),
            Some(&token),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
}

/// Monero keys must be curve points; Litecoin's two P2SH spellings are one
/// address for lookups, lists and screening, whichever was stored.
async fn monero_keys_are_points_and_litecoin_p2sh_forms_are_one(backend: TestBackend) {
    let w = world(backend).await;
    let with = |chain: &str, address: &str| {
        let mut record = address_record(address, "green", json!({}));
        record["chain"] = json!(chain);
        record
    };
    // Base point and its double: a valid address; y = 2 as spend key: not.
    let valid = "44yQXfkWZNmJ8QgRfFWTzmJ8QgRfFWTzmJ8QgRfFWTzmJCAof7pyUai3Q68xyoie3ASK9sBTXNue95yhG7PE7RLs4rqwDTA";
    let off_curve = "41hWDGhXn8711111111111111111111111111111111118eCEnJfTHx3Q68xyoie3ASK9sBTXNue95yhG7PE7RLs4tjFKuf";
    let refused = create(&w.app, &w.acme, vec![with("xmr", off_curve)]).await;
    refused.assert_problem(422, "validation-failed");
    assert_eq!(refused.body["errors"][0]["field"], "address");
    assert!(
        refused.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("spend key is not a valid ed25519 point"),
        "{}",
        refused.body
    );
    let stored = create(&w.app, &w.acme, vec![with("xmr", valid)]).await;
    assert_eq!(stored.status, 201, "{}", stored.body);

    let three = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy";
    let m = "MQMHBtvnBfxTzt3K2bdxgSE7qZPHSXWsGM";
    let stored = create(&w.app, &w.acme, vec![with("ltc", three)]).await;
    assert_eq!(stored.status, 201, "{}", stored.body);
    assert_eq!(stored.body["items"][0]["address"], three, "kept as typed");
    let token = w.app.token(&w.exchange).await;
    for form in [three, m] {
        let list = w
            .app
            .get(
                &w.exchange,
                &format!("/v1/records?chain=ltc&address={form}"),
                Some(&token),
            )
            .await;
        assert_eq!(list.status, 200, "{}", list.body);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "{form}");
        let screened = w
            .app
            .get(&w.exchange, &format!("/v1/screen/ltc/{form}"), Some(&token))
            .await;
        assert_eq!(screened.body["matched"], true, "{form}: {}", screened.body);
    }
    // Stored as M…, found as 3… too; the Bitcoin address of the same
    // spelling is another address.
    let other_m = "M7uBSTV2qNDHDe2tHfNMqhFkZucgRMpJQk";
    let other_three = "31h38a54tFMrR8kzBnP2241MFD2EUHtGha";
    let stored = create(&w.app, &w.acme, vec![with("ltc", other_m)]).await;
    assert_eq!(stored.status, 201, "{}", stored.body);
    let screened = w
        .app
        .get(
            &w.exchange,
            &format!("/v1/screen/ltc/{other_three}"),
            Some(&token),
        )
        .await;
    assert_eq!(screened.body["matched"], true, "{}", screened.body);
    assert_eq!(screened.body["records"].as_array().unwrap().len(), 1);
    let bitcoin = w
        .app
        .get(
            &w.exchange,
            &format!("/v1/screen/btc/{other_three}"),
            Some(&token),
        )
        .await;
    assert_eq!(bitcoin.body["matched"], false, "{}", bitcoin.body);
}

/// Every `*_at` and `not_after` string inside `value`, with its path.
fn timestamps(value: &Value, path: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let here = format!("{path}/{key}");
                match v {
                    Value::String(s) if key.ends_with("_at") || key == "not_after" => {
                        found.push((here, s.clone()))
                    }
                    other => timestamps(other, &here, found),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                timestamps(v, &format!("{path}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// Admin views (organizations, certificates, clients, communities, keys)
/// write every timestamp as RFC 3339 in UTC with `Z`, as their schema's
/// `date-time` format says.
async fn admin_views_write_timestamps_in_rfc3339(backend: TestBackend) {
    let w = world(backend).await;
    let admin = w.app.token(&w.hub).await;
    let certificate = w.app.pki.ca.issue_client("New NGO", "new-ngo", 30).unwrap();
    let writes = [
        (
            Method::POST,
            "/v1/admin/organizations",
            json!({"id": "new-ngo", "name": "New NGO", "type": "ngo"}),
        ),
        (
            Method::POST,
            "/v1/admin/organizations/new-ngo/certificates",
            json!({"certificate_pem": certificate.cert_pem}),
        ),
        (
            Method::POST,
            "/v1/admin/organizations/new-ngo/clients",
            json!({"id": "new-ngo-analyst", "name": "Analysts", "scopes": ["indicators:read"]}),
        ),
        (
            Method::POST,
            "/v1/admin/communities",
            json!({"id": "new-group", "name": "New group"}),
        ),
        (Method::POST, "/v1/admin/keys/rotate", json!({})),
    ];
    let mut found = Vec::new();
    for (method, path, body) in writes {
        let reply = w.app.send_json(&w.hub, method, path, &admin, body).await;
        assert!(reply.status.is_success(), "{path}: {}", reply.body);
        timestamps(&reply.body, path, &mut found);
    }
    let fingerprint = fingerprint_of(&certificate.cert_pem);
    let revoked = w
        .app
        .send_json(
            &w.hub,
            Method::POST,
            &format!("/v1/admin/certificates/{fingerprint}/revoke"),
            &admin,
            json!({}),
        )
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.body);
    timestamps(&revoked.body, "revoke", &mut found);
    for path in [
        "/v1/admin/organizations",
        "/v1/admin/organizations/new-ngo",
        "/v1/admin/organizations/new-ngo/certificates",
        "/v1/admin/organizations/new-ngo/clients",
        "/v1/admin/communities",
        "/v1/admin/keys",
    ] {
        let reply = w.app.get(&w.hub, path, Some(&admin)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        timestamps(&reply.body, path, &mut found);
    }
    let names: BTreeSet<&str> = found
        .iter()
        .filter_map(|(path, _)| path.rsplit('/').next())
        .collect();
    for expected in ["created_at", "not_after", "revoked_at", "retired_at"] {
        assert!(names.contains(expected), "no {expected} seen: {found:?}");
    }
    for (path, value) in &found {
        assert!(
            value.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(value).is_ok(),
            "{path} = {value:?} is not RFC 3339 with Z"
        );
    }
}

/// The SHA-256 fingerprint the admin API names a certificate by.
fn fingerprint_of(pem: &str) -> String {
    tracewire::auth::PeerCertificate::from_pem(pem)
        .unwrap()
        .fingerprint
}

crate::on_both_backends!(
    admin_views_write_timestamps_in_rfc3339,
    monero_keys_are_points_and_litecoin_p2sh_forms_are_one,
    control_characters_are_refused_by_field,
    control_characters_in_queries_and_paths_are_refused,
    strings_and_lists_have_maximums,
    instants_outside_1970_to_9999_are_refused,
    http_layer_refusals_are_problems,
    idempotency_keys_and_admin_text_are_checked,
    taxii_objects_with_control_characters_fail_alone,
);

/// The OpenAPI document states what the server enforces: bounds of
/// `limit` per route, batch sizes, field maximums, the Idempotency-Key
/// pattern, and the 400/415/422 answers given before handlers run.
#[test]
fn openapi_states_the_enforced_limits() {
    let doc: Value = serde_json::from_str(&tracewire::openapi::document()).unwrap();
    let param = |path: &str, method: &str, name: &str| -> Option<Value> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["schema"].clone())
    };
    let list_limit = param("/v1/records", "get", "limit").unwrap();
    assert_eq!(
        (
            list_limit["minimum"].as_i64(),
            list_limit["maximum"].as_i64()
        ),
        (Some(1), Some(1000))
    );
    let export_limit = param("/v1/records/export", "get", "limit").unwrap();
    assert_eq!(export_limit["maximum"], 100_000);
    assert_eq!(
        param("/v1/changes", "get", "limit").unwrap()["maximum"],
        1000
    );
    assert!(param("/v1/records/count", "get", "limit").is_none());
    assert!(param("/v1/records/count", "get", "after").is_none());
    assert!(param("/v1/records", "get", "format").is_none());
    assert_eq!(
        param("/v1/records", "post", "Idempotency-Key").unwrap()["pattern"],
        "^[!-~]{1,255}$"
    );
    let schemas = &doc["components"]["schemas"];
    let items = &schemas["CreateRecords"]["properties"]["items"];
    assert_eq!(
        (items["minItems"].as_i64(), items["maxItems"].as_i64()),
        (Some(1), Some(10_000))
    );
    let input = &schemas["RecordInput"]["properties"];
    assert_eq!(input["aliases"]["maxItems"], 100);
    assert_eq!(input["aliases"]["items"]["maxLength"], 500);
    assert_eq!(
        schemas["AudienceInput"]["properties"]["communities"]["items"]["pattern"],
        "^[a-z0-9][a-z0-9-]{1,62}$"
    );
    assert_eq!(
        param("/v1/records", "get", "kind").unwrap()["$ref"],
        "#/components/schemas/RecordKind"
    );
    let q = param("/v1/records", "get", "q").unwrap();
    assert_eq!(q["pattern"], "^[^\\x00-\\x1F\\x7F-\\x9F]*$");
    let id = param("/v1/records/{id}", "get", "id").unwrap();
    assert_eq!(id["minLength"], 1);
    assert_eq!(input["external_references"]["maxItems"], 50);
    assert_eq!(input["derived_from"]["maxItems"], 100);
    assert_eq!(input["categories"]["maxItems"], 14);
    assert_eq!(input["description"]["maxLength"], 10_000);
    assert_eq!(input["name"]["maxLength"], 500);
    assert_eq!(
        schemas["ExternalReference"]["properties"]["url"]["maxLength"],
        2048
    );
    assert_eq!(
        schemas["AudienceInput"]["properties"]["organizations"]["maxItems"],
        100
    );
    assert_eq!(
        schemas["CreateApiClient"]["properties"]["scopes"]["minItems"],
        1
    );
    let responses = &doc["paths"]["/v1/records"]["post"]["responses"];
    for status in ["400", "415", "422"] {
        assert!(
            responses.get(status).is_some(),
            "POST /v1/records lacks {status}"
        );
    }
    assert!(doc["paths"]["/v1/records"]["get"]["responses"]
        .get("400")
        .is_some());
    let taxii = &doc["paths"]["/taxii2/{api_root}/collections/{collection_id}/objects/"]["get"]
        ["responses"];
    assert!(taxii.get("404").is_some());
}

async fn idempotency_keys_and_admin_text_are_checked(backend: TestBackend) {
    let w = world(backend).await;
    let token = w.app.token(&w.acme).await;
    let body = json!({"items": [address_record(&evm(1), "green", json!({}))]});
    w.app
        .send_json_with(
            &w.acme,
            Method::POST,
            "/v1/records",
            &token,
            &[("Idempotency-Key", "two words")],
            body.clone(),
        )
        .await
        .assert_problem(400, "bad-request");
    let ok = w
        .app
        .send_json_with(
            &w.acme,
            Method::POST,
            "/v1/records",
            &token,
            &[("Idempotency-Key", "batch-2026-12-01/1")],
            body,
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);

    let admin = w.app.token(&w.hub).await;
    let reply = w
        .app
        .send_json(
            &w.hub,
            Method::POST,
            "/v1/admin/communities",
            &admin,
            json!({"id": "nul-group", "name": "NUL group", "description": "a\u{0}b"}),
        )
        .await;
    reply.assert_problem(422, "validation-failed");
    assert_eq!(reply.body["errors"][0]["field"], "description");
    let reply = w
        .app
        .send_json(
            &w.hub,
            Method::POST,
            "/v1/admin/communities",
            &admin,
            json!({"id": "nul-group", "name": "NUL\u{0}group"}),
        )
        .await;
    reply.assert_problem(422, "validation-failed");
    assert_eq!(reply.body["errors"][0]["field"], "name");
}

/// TAXII objects carrying control characters fail one by one in the
/// status (as any other bad object); nothing answers 500, on PostgreSQL
/// either, which cannot store NUL in text.
async fn taxii_objects_with_control_characters_fail_alone(backend: TestBackend) {
    const TAXII: &str = "application/taxii+json;version=2.1";
    const INTEL: &str = "/taxii2/api/collections/5f2e9c1a-7b3d-4e8f-a6c2-91d0b4e7f3a8";
    let w = world(backend).await;
    let token = w.app.token(&w.acme).await;
    let stamp = "2026-11-20T10:00:00.000Z";
    let envelope = json!({ "objects": [
        { "type": "threat-actor", "spec_version": "2.1", "id": "threat-actor--9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
          "created": stamp, "modified": stamp, "name": "Cr\u{0}ew" },
        { "type": "mal\u{0}ware", "spec_version": "2.1", "id": "mal\u{0}ware--2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
          "created": stamp, "modified": stamp },
        { "type": "indicator", "spec_version": "2.1", "id": "indicator--7f0a4c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
          "created": stamp, "modified": stamp, "valid_from": stamp, "pattern_type": "stix",
          "pattern": "[cryptocurrency-wallet:value = '0x\u{0}1']" },
        { "type": "indicator", "spec_version": "2.1", "id": "indicator--8f0a4c3e-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
          "created": stamp, "modified": stamp, "valid_from": stamp, "pattern_type": "stix",
          "description": "bad\u{0}text",
          "pattern": format!("[cryptocurrency-wallet:value = '{}']", evm(9)) },
        { "type": "threat-actor", "spec_version": "2.1", "id": "threat-actor--1a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
          "created": stamp, "modified": stamp, "name": "Fine crew" },
    ]});
    let request = w
        .app
        .client(Some(&w.acme.certificate))
        .post(w.app.url(&format!("{INTEL}/objects/")))
        .bearer_auth(&token)
        .insert_header(("Accept", TAXII))
        .insert_header(("Content-Type", TAXII));
    let reply = Reply::from(
        read_json(request.send_body(envelope.to_string()).await)
            .await
            .unwrap(),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["success_count"], 1, "{}", reply.body);
    assert_eq!(reply.body["failure_count"], 4, "{}", reply.body);
    let status_id = reply.body["id"].as_str().unwrap();
    let status = w
        .app
        .client(Some(&w.acme.certificate))
        .get(w.app.url(&format!("/taxii2/api/status/{status_id}/")))
        .bearer_auth(&token)
        .insert_header(("Accept", TAXII))
        .send();
    let status = Reply::from(read_json(status.await).await.unwrap());
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["failure_count"], 4, "{}", status.body);
}

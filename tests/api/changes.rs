//! The change feed: in order, never skipping, and only what the reader may see.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use crate::records::{address_record, create, evm, world};
use awc::http::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Follows the feed from `after` (the start when empty) to its end; returns
/// the events and the last cursor.
async fn follow(
    app: &TestApp,
    org: &TestOrg,
    token: &str,
    mut after: String,
    limit: usize,
) -> (Vec<Value>, String) {
    let mut events = Vec::new();
    loop {
        let page = app
            .get(
                org,
                &format!("/v1/changes?after={after}&limit={limit}"),
                Some(token),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap().clone();
        assert!(items.len() <= limit);
        let next = page.body["next"].as_str().unwrap().to_owned();
        assert_ne!(next, after, "every answer carries a fresh cursor");
        if items.is_empty() {
            return (events, next);
        }
        events.extend(items);
        after = next;
    }
}

/// Each reader sees the revisions it could read under their own sharing, in
/// order; a widened record appears from its new revision on, numbered among
/// the revisions the reader may see; revocations are tombstones.
async fn the_feed_shows_each_reader_what_it_may_see(backend: TestBackend) {
    let w = world(backend).await;
    let created = create(
        &w.app,
        &w.acme,
        vec![
            address_record(&evm(1), "green", json!({})),
            address_record(&evm(2), "red", json!({"organizations": ["ngo"]})),
            address_record(&evm(3), "amber", json!({"communities": ["at"]})),
        ],
    )
    .await;
    let ids: Vec<String> = created.body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let token = w.app.token(&w.acme).await;
    // The RED record is widened to GREEN (revision 2), the GREEN one revoked (revision 2).
    let widened = w
        .app
        .send_json(
            &w.acme,
            Method::PUT,
            &format!("/v1/records/{}", ids[1]),
            &token,
            address_record(&evm(2), "green", json!({})),
        )
        .await;
    assert_eq!(widened.status, 200, "{}", widened.body);
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

    let expected = |reader: &str| -> Vec<(String, i64, &'static str)> {
        let mut list = vec![(ids[0].clone(), 1, "revision")];
        let read_red = reader == "acme" || reader == "ngo";
        if read_red {
            list.push((ids[1].clone(), 1, "revision"));
        }
        if reader == "acme" || reader == "member" {
            list.push((ids[2].clone(), 1, "revision"));
        }
        // Readers that never saw the RED revision see the GREEN one as revision 1.
        list.push((ids[1].clone(), if read_red { 2 } else { 1 }, "revision"));
        list.push((ids[0].clone(), 2, "revocation"));
        list
    };
    for reader in [&w.acme, &w.ngo, &w.member, &w.exchange, &w.hub] {
        let reader_token = w.app.token(reader).await;
        let (events, _) = follow(&w.app, reader, &reader_token, String::new(), 2).await;
        let got: Vec<(String, i64, &str)> = events
            .iter()
            .map(|e| {
                (
                    e["record_id"].as_str().unwrap().to_owned(),
                    e["revision"].as_i64().unwrap(),
                    if e["event"] == "revocation" {
                        "revocation"
                    } else {
                        "revision"
                    },
                )
            })
            .collect();
        assert_eq!(got, expected(&reader.id), "{}", reader.id);
        for event in &events {
            if event["event"] == "revocation" {
                assert!(event.get("record").is_none(), "tombstone: {event}");
            } else {
                assert_eq!(event["record"]["id"], event["record_id"]);
                assert!(event["content_hash"].as_str().unwrap().len() == 64);
            }
        }
    }
    let bad = w
        .app
        .get(
            &w.ngo,
            "/v1/changes?after=abc",
            Some(&w.app.token(&w.ngo).await),
        )
        .await;
    bad.assert_problem(400, "bad-request");
}

/// Many writers commit concurrently while a reader follows the cursor: at
/// the end the reader has seen every event exactly once, in cursor order.
async fn a_follower_never_misses_an_event_under_concurrent_writes(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let all = "indicators:read indicators:write";
    let writers: Vec<TestOrg> = (0..6)
        .map(|i| {
            app.add_org(
                &format!("writer-{i}"),
                tracewire::domain::OrganizationType::Forensics,
                all,
            )
        })
        .collect();
    let reader = app.add_org(
        "reader",
        tracewire::domain::OrganizationType::Exchange,
        "indicators:read",
    );
    let reader_token = app.token(&reader).await;
    let done = std::cell::Cell::new(false);

    let write_all = async {
        let jobs = writers.iter().enumerate().map(|(w, org)| {
            let app = &app;
            async move {
                let token = app.token(org).await;
                let mut ids = Vec::new();
                for batch in 0..12 {
                    let items: Vec<Value> = (0..3)
                        .map(|i| {
                            address_record(
                                &evm(100_000 * (w + 1) + batch * 10 + i),
                                "green",
                                json!({}),
                            )
                        })
                        .collect();
                    let reply = app
                        .send_json(
                            org,
                            Method::POST,
                            "/v1/records",
                            &token,
                            json!({ "items": items }),
                        )
                        .await;
                    assert_eq!(reply.status, 201, "{}", reply.body);
                    ids.extend(
                        reply.body["ids"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_str().unwrap().to_owned()),
                    );
                }
                ids
            }
        });
        let ids: Vec<String> = futures_util::future::join_all(jobs)
            .await
            .into_iter()
            .flatten()
            .collect();
        done.set(true);
        ids
    };
    let read_all = async {
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let finished = done.get();
            let (events, next) = follow(&app, &reader, &reader_token, after.clone(), 7).await;
            seen.extend(events);
            after = next;
            if finished {
                return seen;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    let (written, seen) = futures_util::future::join(write_all, read_all).await;

    let cursors: BTreeSet<&str> = seen.iter().map(|e| e["cursor"].as_str().unwrap()).collect();
    assert_eq!(
        cursors.len(),
        seen.len(),
        "every event has a cursor of its own"
    );
    let seen_ids: Vec<String> = seen
        .iter()
        .map(|e| e["record_id"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = seen_ids.iter().collect();
    assert_eq!(unique.len(), seen_ids.len(), "no event twice");
    let expected: BTreeSet<&String> = written.iter().collect();
    assert_eq!(written.len(), 6 * 12 * 3);
    assert_eq!(unique, expected, "every event seen");
}

/// Stronger: ten organizations write new records, new revisions and
/// revocations at once over a pool of several connections and two workers,
/// while a follower pages through the feed. The follower sees every event
/// exactly once; each record's events in revision order; and resuming from
/// any event's own cursor later yields exactly the events after it, in the
/// same order.
async fn many_writers_and_a_concurrent_follower_see_every_event_once_in_resumable_order(
    backend: TestBackend,
) {
    const WRITERS: usize = 10;
    const ROUNDS: usize = 6;
    let app = TestApp::spawn_with(backend, |s, _| {
        s.database.pool_size = 8;
        s.api.workers = 2;
    })
    .await;
    let all = "indicators:read indicators:write";
    let writers: Vec<TestOrg> = (0..WRITERS)
        .map(|i| {
            app.add_org(
                &format!("busy-{i}"),
                tracewire::domain::OrganizationType::Forensics,
                all,
            )
        })
        .collect();
    let reader = app.add_org(
        "follower",
        tracewire::domain::OrganizationType::Exchange,
        "indicators:read",
    );
    let reader_token = app.token(&reader).await;
    let done = std::cell::Cell::new(false);

    // Each writer: per round, two new records, a new revision of the
    // first, and every other round a revocation of the second.
    let write_all = async {
        let jobs = writers.iter().enumerate().map(|(w, org)| {
            let app = &app;
            async move {
                let token = app.token(org).await;
                let mut expected = Vec::new();
                for round in 0..ROUNDS {
                    let n = 1_000_000 * (w + 1) + round * 10;
                    let items = vec![
                        address_record(&evm(n), "green", json!({})),
                        address_record(&evm(n + 1), "green", json!({})),
                    ];
                    let reply = app
                        .send_json(
                            org,
                            Method::POST,
                            "/v1/records",
                            &token,
                            json!({ "items": items }),
                        )
                        .await;
                    assert_eq!(reply.status, 201, "{}", reply.body);
                    let ids: Vec<String> = reply.body["ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect();
                    for id in &ids {
                        expected.push((id.clone(), "revision".to_owned(), 1));
                    }
                    let mut changed = address_record(&evm(n), "green", json!({}));
                    changed["confidence"] = json!(55);
                    let path = format!("/v1/records/{}", ids[0]);
                    let reply = app
                        .send_json(org, Method::PUT, &path, &token, changed)
                        .await;
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    expected.push((ids[0].clone(), "revision".to_owned(), 2));
                    if round % 2 == 1 {
                        let path = format!("/v1/records/{}/revoke", ids[1]);
                        let reply = app
                            .send_json(org, Method::POST, &path, &token, json!(null))
                            .await;
                        assert_eq!(reply.status, 200, "{}", reply.body);
                        expected.push((ids[1].clone(), "revocation".to_owned(), 2));
                    }
                }
                expected
            }
        });
        let expected: Vec<(String, String, i64)> = futures_util::future::join_all(jobs)
            .await
            .into_iter()
            .flatten()
            .collect();
        done.set(true);
        expected
    };
    let read_all = async {
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let finished = done.get();
            let (events, next) = follow(&app, &reader, &reader_token, after.clone(), 5).await;
            seen.extend(events);
            after = next;
            if finished {
                return seen;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(3)).await;
        }
    };
    let (expected, seen) = futures_util::future::join(write_all, read_all).await;

    let key = |e: &Value| {
        (
            e["record_id"].as_str().unwrap().to_owned(),
            e["event"].as_str().unwrap().to_owned(),
            e["revision"].as_i64().unwrap(),
        )
    };
    let seen_keys: Vec<(String, String, i64)> = seen.iter().map(key).collect();
    let unique: BTreeSet<&(String, String, i64)> = seen_keys.iter().collect();
    assert_eq!(unique.len(), seen_keys.len(), "no event twice");
    assert_eq!(expected.len(), WRITERS * ROUNDS * 3 + WRITERS * ROUNDS / 2);
    let expected_set: BTreeSet<&(String, String, i64)> = expected.iter().collect();
    assert_eq!(unique, expected_set, "every event seen");
    // Each record's events come in the order they were written.
    let mut last: std::collections::HashMap<&str, (i64, &str)> = Default::default();
    for (id, event, revision) in &seen_keys {
        if let Some((r, e)) = last.get(id.as_str()) {
            assert!(
                (*r, *e) < (*revision, event.as_str()),
                "{id}: {event} {revision} after {e} {r}"
            );
        }
        last.insert(id, (*revision, event));
    }
    // Resuming from any event's cursor gives exactly what followed it.
    for k in [0, seen.len() / 3, seen.len() / 2, seen.len() - 2] {
        let cursor = seen[k]["cursor"].as_str().unwrap().to_owned();
        let (rest, _) = follow(&app, &reader, &reader_token, cursor, 50).await;
        let rest: Vec<_> = rest.iter().map(key).collect();
        assert_eq!(rest, seen_keys[k + 1..], "resumed after event {k}");
    }
}

crate::on_both_backends!(
    the_feed_shows_each_reader_what_it_may_see,
    a_follower_never_misses_an_event_under_concurrent_writes,
    many_writers_and_a_concurrent_follower_see_every_event_once_in_resumable_order,
);

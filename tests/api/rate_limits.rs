//! Per-organization rate limits: one partner's flood is answered 429
//! (problem+json, `Retry-After`, `RateLimit` headers) while another
//! partner's lookups go through with their usual latency.
use crate::helpers::{TestApp, TestBackend};
use awc::http::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use tracewire::domain::OrganizationType;

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

async fn one_partners_flood_does_not_slow_another(backend: TestBackend) {
    let app = TestApp::spawn_with(backend, |settings, _| {
        settings.api.org_requests_per_second = 5;
        settings.api.org_request_burst = 10;
    })
    .await;
    let flooder = app.add_org("flooder", OrganizationType::Exchange, "indicators:read");
    let analyst = app.add_org("analyst", OrganizationType::Ngo, "indicators:read");
    let (flood_token, token) = (app.token(&flooder).await, app.token(&analyst).await);
    let lookup = "/v1/screen/eth/0x52908400098527886e0f7030069857d2e4169ee7";

    let analyst_client = app.client(Some(&analyst.certificate));
    let timed_lookup = || async {
        let started = Instant::now();
        let response = analyst_client
            .get(app.url(lookup))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), started.elapsed())
    };
    let mut baseline = Vec::new();
    for _ in 0..6 {
        let (status, took) = timed_lookup().await;
        assert_eq!(status, 200);
        baseline.push(took);
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }

    // The flood: 16 connections sending back to back for 3 s.
    let flood_client = app.client(Some(&flooder.certificate));
    let deadline = Instant::now() + Duration::from_secs(3);
    let flood = (0..16).map(|_| {
        let (client, token, url) = (&flood_client, &flood_token, app.url(lookup));
        async move {
            let mut statuses = Vec::new();
            let mut limited = None;
            while Instant::now() < deadline {
                let response = client.get(&url).bearer_auth(token).send().await.unwrap();
                let status = response.status().as_u16();
                if status == 429 && limited.is_none() {
                    limited = Some(crate::helpers::Reply::from(
                        crate::helpers::read_json(Ok(response)).await.unwrap(),
                    ));
                }
                statuses.push(status);
            }
            (statuses, limited)
        }
    });
    let analyst_during = async {
        let mut during = Vec::new();
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        // Within the analyst's own limit: 8 lookups in about 2 s.
        for _ in 0..8 {
            let (status, took) = timed_lookup().await;
            assert_eq!(status, 200, "the analyst was limited by the flood");
            during.push(took);
            actix_web::rt::time::sleep(Duration::from_millis(250)).await;
        }
        during
    };
    let (flooded, during) =
        futures_util::future::join(futures_util::future::join_all(flood), analyst_during).await;

    let statuses: Vec<u16> = flooded.iter().flat_map(|(s, _)| s.clone()).collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    let (before, while_flooded) = (median(baseline), median(during.clone()));
    eprintln!(
        "flood: {ok} answered, {limited} limited; analyst lookup median {before:?} before, {while_flooded:?} during"
    );
    assert_eq!(ok + limited, statuses.len(), "{statuses:?}");
    // At most the burst plus 3 s at the rate got through (and a little slack).
    assert!(ok <= 10 + 3 * 5 + 5, "{ok} of the flood answered 200");
    assert!(limited > 0, "the flood was never limited");
    let refused = flooded.into_iter().find_map(|(_, r)| r).unwrap();
    refused.assert_problem(429, "rate-limited");
    let retry_after: u64 = refused
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(
        refused
            .headers
            .get("ratelimit-policy")
            .unwrap()
            .to_str()
            .unwrap(),
        "\"org\";q=10;w=2"
    );
    assert!(refused
        .headers
        .get("ratelimit")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("\"org\";r=0;t="));

    assert!(
        while_flooded < before * 5 + Duration::from_millis(250),
        "the analyst's lookups slowed from {before:?} to {while_flooded:?}: {during:?}"
    );
    app.stop().await;
}

/// Bulk items count too: an organization screening more addresses per
/// second than `api.org_bulk_items_per_second` (beyond one batch's worth)
/// is refused with 429 until its bucket refills; others are not.
async fn bulk_items_are_limited_per_organization(backend: TestBackend) {
    let app = TestApp::spawn_with(backend, |settings, _| {
        settings.api.org_bulk_items_per_second = 1_000;
    })
    .await;
    let exchange = app.add_org("exchange", OrganizationType::Exchange, "indicators:read");
    let other = app.add_org("other", OrganizationType::Exchange, "indicators:read");
    let (token, other_token) = (app.token(&exchange).await, app.token(&other).await);
    let batch = |n: usize| {
        let items: Vec<serde_json::Value> = (0..n)
            .map(|i| json!({"chain": "eth", "address": format!("0x{i:040x}")}))
            .collect();
        json!({ "items": items })
    };
    // The bucket holds 10,000 items (one full batch): 6,000 pass…
    let first = app
        .send_json(&exchange, Method::POST, "/v1/screen", &token, batch(6_000))
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let state = first
        .headers
        .get("ratelimit")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(state.contains("\"org-bulk-items\";r="), "{state}");
    // …and a full batch right after does not (until 6,000 items have
    // been refilled: 6 s at 1,000 per second).
    let second = app
        .send_json(&exchange, Method::POST, "/v1/screen", &token, batch(10_000))
        .await;
    second.assert_problem(429, "rate-limited");
    let retry_after: u64 = second
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=6).contains(&retry_after), "Retry-After: {retry_after}");
    assert!(second
        .headers
        .get("ratelimit-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("\"org-bulk-items\";q=10000;w=10"));
    // Another organization has its own bucket.
    let others = app
        .send_json(
            &other,
            Method::POST,
            "/v1/screen",
            &other_token,
            batch(6_000),
        )
        .await;
    assert_eq!(others.status, 200, "{}", others.body);
    // Once refilled, the batch passes.
    actix_web::rt::time::sleep(Duration::from_secs(retry_after + 1)).await;
    let later = app
        .send_json(&exchange, Method::POST, "/v1/screen", &token, batch(10_000))
        .await;
    assert_eq!(later.status, 200, "{}", later.body);
    app.stop().await;
}

/// Under `/taxii2/` the refusal is a TAXII error message, like every TAXII error.
async fn taxii_refusals_are_taxii_errors(backend: TestBackend) {
    let app = TestApp::spawn_with(backend, |settings, _| {
        settings.api.org_requests_per_second = 1;
    })
    .await;
    let reader = app.add_org("reader", OrganizationType::Exchange, "indicators:read");
    let token = app.token(&reader).await;
    let client = app.client(Some(&reader.certificate));
    let mut reply = None;
    // One request per second passes: of five back to back, some are refused.
    for _ in 0..5 {
        let response = client
            .get(app.url("/taxii2/"))
            .insert_header(("Accept", "application/taxii+json;version=2.1"))
            .bearer_auth(&token)
            .send()
            .await;
        let answer =
            crate::helpers::Reply::from(crate::helpers::read_json(response).await.unwrap());
        if answer.status == 429 {
            reply = Some(answer);
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let reply = reply.expect("five requests in a row at 1 per second were never refused");
    assert_eq!(
        reply.headers.get("content-type").unwrap().to_str().unwrap(),
        "application/taxii+json;version=2.1"
    );
    assert_eq!(
        reply.body["error_code"],
        "urn:tracewire:problem:rate-limited"
    );
    assert_eq!(reply.body["http_status"], "429");
    assert!(reply.headers.get("retry-after").is_some());
    app.stop().await;
}

crate::on_both_backends!(
    one_partners_flood_does_not_slow_another,
    bulk_items_are_limited_per_organization,
    taxii_refusals_are_taxii_errors,
);

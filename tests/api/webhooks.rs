//! Webhook deliveries of alerts to a real HTTPS receiver started by the
//! test: signed per Standard Webhooks (checked by a Rust verifier that
//! passes the specification's test vector, and by the Python reference
//! library `standardwebhooks`), in order, retried while the receiver
//! fails, kept across a restart of tracewire, and disabled with a reason
//! when failing too long.
//!
//! The Python check needs `TRACEWIRE_TEST_WEBHOOKS_PYTHON`: a Python with
//! the pinned `tests/webhooks/requirements.txt` (`.ci/run` makes one).
//! Without it that check says it is skipped, and fails when `CI` is set.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use crate::receiver::{verify, Received, Receiver};
use crate::records::{address_record, create, evm};
use awc::http::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use tracewire::domain::OrganizationType;

fn python() -> Option<String> {
    match std::env::var("TRACEWIRE_TEST_WEBHOOKS_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var_os("CI").is_some() => panic!(
            "TRACEWIRE_TEST_WEBHOOKS_PYTHON is not set, but CI is: the standardwebhooks check \
             must run in CI (.ci/run makes the venv and sets it)"
        ),
        _ => {
            eprintln!("skipped: TRACEWIRE_TEST_WEBHOOKS_PYTHON is not set (see .ci/run)");
            None
        }
    }
}

/// Verifies `deliveries` with the Python reference library (each under all
/// of its secrets); returns how many verifications passed.
fn verify_with_python(deliveries: &[(Received, Vec<String>)]) -> Option<u64> {
    use base64::Engine;
    let python = python()?;
    let dir = tempfile::tempdir().unwrap();
    let spec = json!({
        "deliveries": deliveries.iter().map(|(r, secrets)| json!({
            "id": r.id, "timestamp": r.timestamp, "signature": r.signature,
            "body_b64": base64::engine::general_purpose::STANDARD.encode(&r.body),
            "secrets": secrets,
        })).collect::<Vec<_>>(),
    });
    let path = dir.path().join("deliveries.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/verify.py");
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(&path)
        .output()
        .expect("the test Python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "standardwebhooks refused a delivery:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    result["verified"].as_u64()
}

pub async fn alert_app(backend: TestBackend, receiver: &Receiver, retry_for_secs: u64) -> TestApp {
    let ca = receiver.ca_file.clone();
    TestApp::spawn_with(backend, move |settings, _| {
        settings.alerts.allow_private_endpoints = true;
        settings.alerts.receiver_ca_file = Some(ca);
        settings.alerts.retry_initial_ms = 100;
        settings.alerts.retry_max_secs = 1;
        settings.alerts.retry_for_secs = retry_for_secs;
        settings.alerts.delivery_timeout_secs = 2;
        settings.alerts.poll_interval_ms = 50;
    })
    .await
}

async fn watch(app: &TestApp, org: &TestOrg, items: Value) {
    let token = app.token(org).await;
    let reply = app
        .send_json(
            org,
            Method::POST,
            "/v1/watchlist",
            &token,
            json!({ "items": items }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

async fn register(app: &TestApp, org: &TestOrg, url: &str) -> (String, String) {
    let token = app.token(org).await;
    let reply = app
        .send_json(
            org,
            Method::POST,
            "/v1/webhooks",
            &token,
            json!({ "url": url, "description": "compliance" }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let secret = reply.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (reply.body["id"].as_str().unwrap().to_owned(), secret)
}

/// Every alert of `org`, oldest first, following the cursor.
pub async fn all_alerts(app: &TestApp, org: &TestOrg) -> Vec<Value> {
    let token = app.token(org).await;
    let mut alerts = Vec::new();
    let mut after = String::new();
    loop {
        let page = app
            .get(
                org,
                &format!("/v1/alerts?limit=7&after={after}"),
                Some(&token),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap().clone();
        after = page.body["next"].as_str().unwrap().to_owned();
        if items.is_empty() {
            return alerts;
        }
        alerts.extend(items);
    }
}

/// Waits until the alert consumer has consumed every change so far.
pub async fn alerts_caught_up(app: &TestApp) {
    for _ in 0..400 {
        let mut conn = app.db.get().unwrap();
        let head = tracewire::storage::changes::head(&mut conn).unwrap();
        let position = tracewire::storage::alerts::position(&mut conn).unwrap();
        if position == head {
            return;
        }
        drop(conn);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the alert consumer did not catch up");
}

fn body(received: &Received) -> Value {
    serde_json::from_slice(&received.body).unwrap()
}

async fn deliveries_are_signed_in_order_retried_and_survive_a_restart(backend: TestBackend) {
    let receiver = Receiver::start().await;
    receiver.set_failing(true);
    let app = alert_app(backend, &receiver, 3600).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let northwind = app.add_org("northwind", OrganizationType::Exchange, "indicators:read");
    let hub = app.add_org("hub", OrganizationType::Hub, "admin indicators:read");
    let (endpoint, secret) = register(&app, &northwind, &receiver.url()).await;
    let items: Vec<Value> = (0..7)
        .map(|i| json!({ "chain": "eth", "address": evm(i), "label": format!("cust-{i}") }))
        .collect();
    watch(&app, &northwind, json!(items)).await;

    // Three alerts while the receiver fails: attempts are made and refused.
    let filed = create(
        &app,
        &acme,
        (0..3)
            .map(|i| address_record(&evm(i), "green", json!({})))
            .collect(),
    )
    .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    for _ in 0..200 {
        if receiver.received().len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let refused = receiver.received();
    assert!(
        refused.len() >= 3,
        "retries while failing: {}",
        refused.len()
    );
    let first_id = &refused[0].id;
    assert!(
        refused.iter().all(|r| &r.id == first_id),
        "in order: nothing passes the head"
    );

    // tracewire restarts in between; three more are filed.
    let app = app.restart().await;
    let filed = create(
        &app,
        &acme,
        (3..6)
            .map(|i| address_record(&evm(i), "green", json!({})))
            .collect(),
    )
    .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    alerts_caught_up(&app).await;

    // The receiver recovers: every alert arrives once, in order.
    receiver.set_failing(false);
    let accepted = receiver.wait_accepted(6, 30).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let accepted_after = receiver.accepted();
    assert_eq!(accepted_after.len(), 6, "no duplicates");
    let alerts = all_alerts(&app, &northwind).await;
    assert_eq!(alerts.len(), 6);
    let alert_ids: Vec<&str> = alerts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let delivered_ids: Vec<&str> = accepted.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        delivered_ids, alert_ids,
        "delivered once each, in alert order"
    );
    for (i, received) in accepted.iter().enumerate() {
        let payload = body(received);
        assert_eq!(payload["type"], "alert.created");
        assert_eq!(payload["data"]["id"], received.id.as_str());
        assert_eq!(payload["data"]["kind"], "record");
        assert_eq!(payload["data"]["watched"][0]["label"], format!("cust-{i}"));
        assert_eq!(payload["data"]["screening"]["matched"], true);
        assert_eq!(payload["data"]["record"]["address"], evm(i));
        assert!(
            verify(
                &secret,
                &received.id,
                &received.timestamp,
                &received.body,
                &received.signature
            ),
            "Rust verifier: {received:?}"
        );
        assert!(!verify(
            &secret,
            &received.id,
            &received.timestamp,
            b"{}",
            &received.signature
        ));
    }

    // The delivery log shows the refused attempts and the deliveries.
    let token = app.token(&northwind).await;
    let log = app
        .get(
            &northwind,
            &format!("/v1/webhooks/{endpoint}/deliveries?limit=1000"),
            Some(&token),
        )
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let log = log.body["items"].as_array().unwrap().clone();
    assert!(log
        .iter()
        .any(|d| d["status_code"] == 503 && d["attempt"].as_i64() > Some(1)));
    assert_eq!(log.iter().filter(|d| d["status_code"] == 204).count(), 6);
    assert!(log.iter().all(|d| d["latency_ms"].as_i64().is_some()));
    // No one else sees the endpoint or its log.
    let acme_token = app.token(&acme).await;
    app.get(
        &acme,
        &format!("/v1/webhooks/{endpoint}/deliveries"),
        Some(&acme_token),
    )
    .await
    .assert_problem(404, "not-found");
    let listed = app.get(&northwind, "/v1/webhooks", Some(&token)).await;
    assert!(
        !listed.body.to_string().contains("whsec_"),
        "secrets are shown once only"
    );

    // Rotation: both secrets sign during the grace period.
    let rotated = app
        .send_json(
            &northwind,
            Method::POST,
            &format!("/v1/webhooks/{endpoint}/rotate"),
            &token,
            json!({ "grace_secs": 3600 }),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let filed = create(
        &app,
        &acme,
        vec![address_record(&evm(6), "green", json!({}))],
    )
    .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let accepted = receiver.wait_accepted(7, 30).await;
    let last = accepted.last().unwrap();
    assert_eq!(last.signature.split(' ').count(), 2, "{}", last.signature);
    for key in [&secret, &new_secret] {
        assert!(verify(
            key,
            &last.id,
            &last.timestamp,
            &last.body,
            &last.signature
        ));
    }
    let mut checks: Vec<(Received, Vec<String>)> = accepted[..6]
        .iter()
        .map(|r| (r.clone(), vec![secret.clone()]))
        .collect();
    checks.push((last.clone(), vec![secret.clone(), new_secret.clone()]));
    if let Some(verified) = verify_with_python(&checks) {
        assert_eq!(verified, 8);
    }

    // Metrics and the operator's view: health, no alert content.
    let metrics = app
        .client(None)
        .get(app.ops_url("/metrics"))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    for line in [
        "tracewire_alerts_created_total 4",
        "tracewire_webhook_deliveries_total{result=\"delivered\"}",
        "tracewire_webhook_queue_depth 0",
        "tracewire_webhook_oldest_undelivered_seconds 0",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    let hub_token = app.token(&hub).await;
    let health = app.get(&hub, "/v1/admin/webhooks", Some(&hub_token)).await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.body[0]["organization"], "northwind");
    assert_eq!(health.body[0]["state"], "active");
    assert_eq!(health.body[0]["host"], "127.0.0.1");
    let text = health.body.to_string();
    assert!(!text.contains("/hook") && !text.contains(&evm(0)) && !text.contains("cust-"));
    app.get(&northwind, "/v1/admin/webhooks", Some(&token))
        .await
        .assert_problem(403, "insufficient-scope");
    receiver.stop().await;
}

async fn an_endpoint_failing_too_long_is_disabled_and_can_resume(backend: TestBackend) {
    let receiver = Receiver::start().await;
    receiver.set_failing(true);
    let app = alert_app(backend, &receiver, 1).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let northwind = app.add_org("northwind", OrganizationType::Exchange, "indicators:read");
    let (endpoint, secret) = register(&app, &northwind, &receiver.url()).await;
    watch(
        &app,
        &northwind,
        json!([{ "address": evm(1) }, { "address": evm(2) }]),
    )
    .await;
    let filed = create(
        &app,
        &acme,
        vec![
            address_record(&evm(1), "green", json!({})),
            address_record(&evm(2), "clear", json!({})),
        ],
    )
    .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let token = app.token(&northwind).await;
    let mut state = Value::Null;
    for _ in 0..200 {
        state = app
            .get(
                &northwind,
                &format!("/v1/webhooks/{endpoint}"),
                Some(&token),
            )
            .await
            .body;
        if state["state"] == "disabled" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state["state"], "disabled", "{state}");
    let reason = state["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 503") && reason.contains("enable"),
        "{reason}"
    );
    // Its alerts stay readable.
    assert_eq!(all_alerts(&app, &northwind).await.len(), 2);
    // Nothing more is attempted while disabled.
    let attempts = receiver.received().len();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), attempts);

    // Enabled again, with the receiver back: both arrive, in order.
    receiver.set_failing(false);
    let enabled = app
        .send_json(
            &northwind,
            Method::POST,
            &format!("/v1/webhooks/{endpoint}/enable"),
            &token,
            json!(null),
        )
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert_eq!(enabled.body["state"], "active");
    let accepted = receiver.wait_accepted(2, 30).await;
    let alerts = all_alerts(&app, &northwind).await;
    assert_eq!(accepted[0].id, alerts[0]["id"].as_str().unwrap());
    assert_eq!(accepted[1].id, alerts[1]["id"].as_str().unwrap());
    assert!(accepted
        .iter()
        .all(|r| verify(&secret, &r.id, &r.timestamp, &r.body, &r.signature)));
    receiver.stop().await;
}

/// Without `alerts.allow_private_endpoints`, loopback and private receivers are refused.
async fn private_endpoints_are_refused_unless_allowed(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let northwind = app.add_org("northwind", OrganizationType::Exchange, "indicators:read");
    let token = app.token(&northwind).await;
    for url in [
        "https://127.0.0.1:9/hook",
        "https://10.0.0.8/hook",
        "https://localhost/hook",
        "http://8.8.8.8/hook",
    ] {
        app.send_json(
            &northwind,
            Method::POST,
            "/v1/webhooks",
            &token,
            json!({ "url": url }),
        )
        .await
        .assert_problem(422, "validation-failed");
    }
}

crate::on_both_backends!(
    deliveries_are_signed_in_order_retried_and_survive_a_restart,
    an_endpoint_failing_too_long_is_disabled_and_can_resume,
    private_endpoints_are_refused_unless_allowed,
);

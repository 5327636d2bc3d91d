//! The demo's alert walk-through: Northwind registers a local HTTPS
//! receiver and a watchlist entry over the API, Acme files a record for the
//! watched address, and the receiver prints the alert as it arrives, after
//! checking its Standard Webhooks signature.
use super::pki::load_ca;
use crate::client::{ApiClient, ConnectArgs};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::{bail, Context};
use awc::http::Method;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Inbox = Arc<Mutex<(Option<String>, Vec<String>)>>;

async fn receive(req: HttpRequest, body: web::Bytes, inbox: web::Data<Inbox>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let mut inbox = inbox.lock().unwrap_or_else(|e| e.into_inner());
    let verified = inbox.0.as_deref().is_some_and(|secret| {
        let expected = timestamp
            .parse()
            .ok()
            .and_then(|ts| crate::alerts::webhooks::sign(secret, &id, ts, &body));
        expected.is_some_and(|e| signature.split(' ').any(|s| s == e))
    });
    let alert: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let data = &alert["data"];
    inbox.1.push(format!(
        "  [receiver] webhook-id {id}: signature {}; {} alert for {} {} (label {:?}), filed by {}, confidence {}",
        if verified { "verified" } else { "NOT verified" },
        data["kind"].as_str().unwrap_or("?"),
        data["record"]["chain"].as_str().unwrap_or("?"),
        data["record"]["address"].as_str().unwrap_or("?"),
        data["watched"][0]["label"].as_str().unwrap_or(""),
        data["record"]["provenance"]["source_organization"].as_str().unwrap_or("(anonymous)"),
        data["record"]["confidence"],
    ));
    if verified {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::Unauthorized().finish()
    }
}

/// Runs the walk-through against the demo server; returns the lines to print.
pub async fn walk_through(dir: &Path) -> anyhow::Result<Vec<String>> {
    let pki = dir.join("pki");
    let ca = load_ca(&pki)?;
    let server = ca.issue_server(&["localhost".into()], 2)?;
    let chain = CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("receiver certificate")?;
    let key = PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).context("receiver key")?;
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    let inbox: Inbox = Arc::new(Mutex::new((None, Vec::new())));
    let data = web::Data::new(inbox.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let receiver = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/alerts", web::post().to(receive))
    })
    .workers(1)
    .disable_signals()
    .listen_rustls_0_23(listener, tls)?
    .run();
    actix_web::rt::spawn(receiver);

    let connect = |org: &str| ConnectArgs {
        url: String::new(),
        ca: None,
        cert: None,
        key: None,
        client_id: None,
        demo_org: Some(org.into()),
        demo_dir: dir.to_owned(),
    };
    let northwind = ApiClient::new(connect("northwind-exchange").resolve()?)?;
    let acme = ApiClient::new(connect("acme-forensics").resolve()?)?;
    let url = format!("https://localhost:{port}/alerts");
    let endpoint = northwind
        .send(
            Method::POST,
            "/v1/webhooks",
            &[],
            Some(&json!({ "url": url, "description": "demo receiver" })),
        )
        .await?;
    if endpoint.status != 201 {
        bail!(
            "registering the receiver: {} {}",
            endpoint.status,
            endpoint.body
        );
    }
    inbox.lock().unwrap_or_else(|e| e.into_inner()).0 =
        endpoint.body["secret"].as_str().map(str::to_owned);
    // A fresh address each run, so that Acme's record is new.
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let address = format!("0x{:040x}", nanos as u128);
    let watched = northwind
        .send(
            Method::POST,
            "/v1/watchlist",
            &[],
            Some(&json!({ "items": [
            { "chain": "eth", "address": address, "label": "customer 4711" } ] })),
        )
        .await?;
    if watched.status != 200 {
        bail!("watching the address: {} {}", watched.status, watched.body);
    }
    let filed = acme
        .send(
            Method::POST,
            "/v1/records",
            &[],
            Some(&json!({ "items": [{
            "kind": "address", "chain": "eth", "address": address, "categories": ["ransomware"],
            "confidence": 85, "tlp": "green", "method": "blockchain_analysis",
            "description": "Cash-out address of a ransomware affiliate" }] })),
        )
        .await?;
    if filed.status != 201 {
        bail!("filing the record: {} {}", filed.status, filed.body);
    }
    let mut lines = vec![
        "\n# 11. Alerts. Northwind registered a webhook receiver (here, a local HTTPS server) and a".to_owned(),
        format!("#     watchlist entry for {address} (label \"customer 4711\"); Acme then filed a GREEN"),
        "#     record for that address. The alert arrives at once, signed per Standard Webhooks:".to_owned(),
    ];
    for _ in 0..100 {
        let arrived = inbox.lock().unwrap_or_else(|e| e.into_inner()).1.clone();
        if !arrived.is_empty() {
            lines.extend(arrived);
            lines.push(
                "#     Northwind reads them with GET /v1/alerts too (sealed cursors; POST /v1/alerts/acknowledge)."
                    .to_owned(),
            );
            return Ok(lines);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no alert arrived at the demo receiver within 10 s")
}

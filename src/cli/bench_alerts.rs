//! `tracewire bench alerts`: a watchlist of `--watch` entries for one
//! organization (of which `--watched` are addresses the ingest will file),
//! while another organization ingests `--count` addresses. Reports the
//! watchlist upload rate, the ingest rate, how many alerts were delivered
//! to a local HTTPS receiver, and the delay from each batch's commit (its
//! 201) to the first delivery of each of its alerts. Needs a `tracewire
//! demo` deployment (its CA signs the receiver; its config allows loopback
//! receivers).
use super::bench::synthetic_address;
use super::pki::load_ca;
use crate::client::{ApiClient, ConnectArgs};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::{bail, Context};
use awc::http::{Method, StatusCode};
use clap::Args;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// The demo's directory.
    #[arg(long, default_value = "tracewire-demo")]
    pub demo_dir: PathBuf,
    /// The organization that watches.
    #[arg(long, default_value = "northwind-exchange")]
    pub watcher: String,
    /// The organization that ingests.
    #[arg(long, default_value = "acme-forensics")]
    pub ingester: String,
    /// Watchlist entries.
    #[arg(long, default_value_t = 1_000_000)]
    pub watch: usize,
    /// Of which addresses the ingest files.
    #[arg(long, default_value_t = 10_000)]
    pub watched: usize,
    /// Addresses ingested (the same synthetic set as `bench ingest`, offset
    /// by `--offset` so that a run on a used server files new records).
    #[arg(long, default_value_t = 1_843_907)]
    pub count: usize,
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Records per ingest request.
    #[arg(long, default_value_t = 10_000)]
    pub batch_size: usize,
}

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receive(
    body: web::Bytes,
    _req: HttpRequest,
    arrivals: web::Data<Arrivals>,
) -> HttpResponse {
    let at = Instant::now();
    let alert: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(address) = alert["data"]["record"]["address"].as_str() {
        arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(address.to_owned())
            .or_insert(at);
    }
    HttpResponse::NoContent().finish()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

pub async fn alerts(args: AlertsArgs) -> anyhow::Result<()> {
    if args.watched > args.watch || args.watched > args.count {
        bail!("--watched must be at most --watch and --count");
    }
    // The receiver.
    let ca = load_ca(&args.demo_dir.join("pki"))?;
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
    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let data = web::Data::new(arrivals.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    actix_web::rt::spawn(
        HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/alerts", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen_rustls_0_23(listener, tls)?
        .run(),
    );

    let connect = |org: &str| ConnectArgs {
        url: String::new(),
        ca: None,
        cert: None,
        key: None,
        client_id: None,
        demo_org: Some(org.into()),
        demo_dir: args.demo_dir.clone(),
    };
    let watcher = ApiClient::new(connect(&args.watcher).resolve()?)?;
    let ingester = ApiClient::new(connect(&args.ingester).resolve()?)?;
    let reply = watcher
        .send(
            Method::POST,
            "/v1/webhooks",
            &[],
            Some(&json!({ "url": format!("https://localhost:{port}/alerts") })),
        )
        .await?;
    if reply.status != StatusCode::CREATED {
        bail!("registering the receiver: {} {}", reply.status, reply.body);
    }

    // The watchlist: `watched` addresses of the ingest, spread evenly, and
    // addresses the ingest never files.
    let step = (args.count / args.watched.max(1)).max(1);
    let watched: Vec<usize> = (0..args.watched).map(|i| args.offset + i * step).collect();
    let started = Instant::now();
    let mut sent = 0;
    let mut entries = Vec::with_capacity(10_000);
    let unwatched_base = args.offset + args.count + 10_000_000;
    for i in 0..args.watch {
        let n = if i < watched.len() {
            watched[i]
        } else {
            unwatched_base + i
        };
        let (chain, address) = synthetic_address(n);
        entries
            .push(json!({ "chain": chain, "address": address, "label": format!("customer-{i}") }));
        if entries.len() == 10_000 || i + 1 == args.watch {
            let body = json!({ "items": entries });
            let reply = watcher
                .send(Method::POST, "/v1/watchlist", &[], Some(&body))
                .await?;
            if reply.status != StatusCode::OK {
                bail!("watchlist upload: {} {}", reply.status, reply.body);
            }
            sent += entries.len();
            entries.clear();
            eprint!("\r{sent} watch entries uploaded");
        }
    }
    eprintln!();
    let upload = started.elapsed();
    println!(
        "watchlist: {} entries in {:.1} s = {:.0} entries/s",
        args.watch,
        upload.as_secs_f64(),
        args.watch as f64 / upload.as_secs_f64()
    );

    // The ingest, one batch at a time (each batch's commit time is kept).
    let mut committed: HashMap<String, Instant> = HashMap::new();
    let watched_set: std::collections::HashSet<usize> = watched.iter().copied().collect();
    let started = Instant::now();
    let mut start = args.offset;
    let end = args.offset + args.count;
    while start < end {
        let stop = (start + args.batch_size).min(end);
        let items: Vec<Value> = (start..stop)
            .map(|n| {
                let (chain, address) = synthetic_address(n);
                json!({ "kind": "address", "chain": chain, "address": address, "categories": ["darknet_market"],
                    "confidence": 70, "tlp": "green", "method": "blockchain_analysis" })
            })
            .collect();
        let reply = ingester
            .send(
                Method::POST,
                "/v1/records",
                &[("Prefer", "return=minimal")],
                Some(&json!({ "items": items })),
            )
            .await?;
        if reply.status != StatusCode::CREATED {
            bail!(
                "ingest batch {start}..{stop}: {} {}",
                reply.status,
                reply.body
            );
        }
        let at = Instant::now();
        for n in (start..stop).filter(|n| watched_set.contains(n)) {
            let (chain, address) = synthetic_address(n);
            let canonical = if chain == "eth" {
                address.to_lowercase()
            } else {
                address
            };
            committed.insert(canonical, at);
        }
        eprint!("\r{} addresses ingested", stop - args.offset);
        start = stop;
    }
    eprintln!();
    let ingest = started.elapsed();
    println!(
        "ingest: {} addresses in {:.1} s = {:.0} addresses/s (batches of {}, one at a time)",
        args.count,
        ingest.as_secs_f64(),
        args.count as f64 / ingest.as_secs_f64(),
        args.batch_size
    );

    // Every watched address's first delivery.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let got = arrivals.lock().unwrap_or_else(|e| e.into_inner()).len();
        if got >= committed.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let arrivals = arrivals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut delays: Vec<Duration> = committed
        .iter()
        .filter_map(|(address, at)| {
            arrivals
                .get(address)
                .map(|got| got.saturating_duration_since(*at))
        })
        .collect();
    delays.sort();
    println!(
        "alerts: {} of {} watched addresses delivered; commit to first delivery p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        delays.len(),
        committed.len(),
        percentile(&delays, 0.5).as_secs_f64() * 1000.0,
        percentile(&delays, 0.99).as_secs_f64() * 1000.0,
        delays.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    Ok(())
}

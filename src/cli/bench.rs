//! `tracewire bench`: load against a running server over real mutual TLS
//! and JWT, as one organization. Audit logging stays on (it is not
//! optional on the server).
//!
//! * `ingest`: pushes synthetic but valid addresses (ETH, BTC, TRON, derived
//!   from SHA-256 of their index, so a later run can find them again)
//!   through `POST /v1/records` in batches;
//! * `lookup`: single screening lookups from many keep-alive connections,
//!   half hits and half misses, next to the same load on `GET /v1/whoami`
//!   (the floor: TLS + JWT and nothing else);
//! * `console`: the analyst console's record page (see `bench_console`);
//! * `screen`: bulk screening, 10,000 addresses per request (`--private`:
//!   beside private screening of the same addresses).
//!
//! Figures are medians and percentiles of what the client measured; record
//! them with the machine and the command in BENCHMARKS.md.
use crate::client::{ApiClient, ConnectArgs};
use anyhow::bail;
use awc::http::{Method, StatusCode};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Push synthetic addresses through the batch API.
    Ingest(IngestArgs),
    /// Single lookups at N concurrent connections, beside GET /v1/whoami.
    Lookup(LookupArgs),
    /// Bulk screening of 10,000 addresses per request.
    Screen(ScreenArgs),
    /// A large watchlist while another organization ingests: alerts and
    /// their delivery delay to a local HTTPS receiver (on a demo deployment).
    Alerts(super::bench_alerts::AlertsArgs),
    /// The console's record page for a record with 50 relationships:
    /// render time p50/p99 beside the JSON read of the same record.
    Console(super::bench_console::ConsoleArgs),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How many addresses (the default is one real marketplace investigation).
    #[arg(long, default_value_t = 1_843_907)]
    pub count: usize,
    /// Records per request.
    #[arg(long, default_value_t = 10_000)]
    pub batch_size: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    /// The server's process id: report its peak resident memory (VmHWM) at the end.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

#[derive(Debug, Args)]
pub struct LookupArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How many addresses `ingest` stored (hits are drawn from them).
    #[arg(long, default_value_t = 1_843_907)]
    pub count: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

#[derive(Debug, Args)]
pub struct ScreenArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How many addresses `ingest` stored (half of each request are hits).
    #[arg(long, default_value_t = 1_843_907)]
    pub count: usize,
    /// Requests to measure (one at a time).
    #[arg(long, default_value_t = 30)]
    pub requests: usize,
    /// Addresses per request.
    #[arg(long, default_value_t = 10_000)]
    pub batch_size: usize,
    /// Also screen the same addresses privately (hash prefixes, with the
    /// client's hashing, padding and matching), alternating with the plain
    /// requests; report both, their ratio and the bytes per address.
    #[arg(long)]
    pub private: bool,
}

/// The synthetic address number `n`: (chain, address), valid on its chain.
pub fn synthetic_address(n: usize) -> (&'static str, String) {
    let digest = Sha256::digest(format!("tracewire-bench-{n}").as_bytes());
    let body = &digest[..20];
    match n % 10 {
        0..=4 => ("eth", format!("0x{}", hex::encode(body))),
        5..=7 => {
            let mut payload = vec![0x00];
            payload.extend_from_slice(body);
            ("btc", bs58::encode(payload).with_check().into_string())
        }
        _ => {
            let mut payload = vec![0x41];
            payload.extend_from_slice(body);
            ("trx", bs58::encode(payload).with_check().into_string())
        }
    }
}

fn record(n: usize) -> Value {
    let (chain, address) = synthetic_address(n);
    json!({
        "kind": "address", "chain": chain, "address": address,
        "categories": ["darknet_market"], "confidence": 70, "tlp": "green",
        "method": "blockchain_analysis", "source_reference": "tracewire bench",
    })
}

/// A hit (an address ingest stored) for even `i`, a miss otherwise.
fn probe(i: usize, count: usize) -> (&'static str, String) {
    let n = i.wrapping_mul(2_654_435_761) % count.max(1);
    if i % 2 == 0 {
        synthetic_address(n)
    } else {
        synthetic_address(count + n)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let client = Rc::new(ApiClient::new(args.connect.resolve()?)?);
    client.token().await?;
    let batches: Vec<(usize, usize)> = (0..args.count)
        .step_by(args.batch_size)
        .map(|start| (start, (start + args.batch_size).min(args.count)))
        .collect();
    let queue = Rc::new(std::cell::RefCell::new(batches.into_iter()));
    let latencies = Rc::new(std::cell::RefCell::new(Vec::new()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, queue, latencies) = (client.clone(), queue.clone(), latencies.clone());
        workers.push(actix_web::rt::spawn(async move {
            loop {
                let Some((start, end)) = queue.borrow_mut().next() else {
                    return Ok::<(), anyhow::Error>(());
                };
                let items: Vec<Value> = (start..end).map(record).collect();
                let body = json!({ "items": items });
                let key = format!("bench-ingest-{start}-{end}-{}", uuid::Uuid::now_v7());
                let sent = Instant::now();
                let reply = client
                    .send(
                        Method::POST,
                        "/v1/records",
                        &[("Prefer", "return=minimal"), ("Idempotency-Key", &key)],
                        Some(&body),
                    )
                    .await?;
                if reply.status != StatusCode::CREATED {
                    bail!("batch {start}..{end}: {} {}", reply.status, reply.body);
                }
                latencies.borrow_mut().push(sent.elapsed());
                eprint!("\r{end} addresses sent");
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    eprintln!();
    let mut latencies = latencies.borrow().clone();
    latencies.sort();
    println!(
        "ingest: {} addresses in {:.1} s = {:.0} addresses/s; batch of {} p50 {:.0} ms, p99 {:.0} ms",
        args.count,
        elapsed.as_secs_f64(),
        args.count as f64 / elapsed.as_secs_f64(),
        args.batch_size,
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
    );
    if let Some(pid) = args.server_pid {
        match peak_rss_mb(pid) {
            Some(mb) => println!("server peak resident memory (VmHWM): {mb:.0} MB"),
            None => println!("server peak resident memory: /proc/{pid}/status not readable"),
        }
    }
    Ok(())
}

/// Runs `connections` loops of `path_for(i)` GETs for `seconds`; returns
/// (requests/s, sorted latencies, hits).
async fn closed_loop(
    client: Rc<ApiClient>,
    connections: usize,
    seconds: u64,
    path_for: Rc<dyn Fn(usize) -> String>,
) -> anyhow::Result<(f64, Vec<Duration>, usize)> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let counter = Rc::new(std::cell::Cell::new(0usize));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (client, counter, path_for) = (client.clone(), counter.clone(), path_for.clone());
        workers.push(actix_web::rt::spawn(async move {
            let mut latencies = Vec::new();
            let mut hits = 0;
            while Instant::now() < deadline {
                let i = counter.get();
                counter.set(i + 1);
                let sent = Instant::now();
                let reply = client.send(Method::GET, &path_for(i), &[], None).await?;
                if reply.status != StatusCode::OK {
                    bail!("{}: {} {}", path_for(i), reply.status, reply.body);
                }
                latencies.push(sent.elapsed());
                if reply.body["matched"] == true {
                    hits += 1;
                }
            }
            Ok::<_, anyhow::Error>((latencies, hits))
        }));
    }
    let mut all = Vec::new();
    let mut hits = 0;
    for worker in workers {
        let (latencies, h) = worker.await??;
        all.extend(latencies);
        hits += h;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    Ok((all.len() as f64 / elapsed, all, hits))
}

async fn lookup(args: LookupArgs) -> anyhow::Result<()> {
    let client = Rc::new(ApiClient::new(args.connect.resolve()?)?);
    client.token().await?;
    let count = args.count;
    let whoami: Rc<dyn Fn(usize) -> String> = Rc::new(|_| "/v1/whoami".to_owned());
    let screen: Rc<dyn Fn(usize) -> String> = Rc::new(move |i| {
        let (chain, address) = probe(i, count);
        format!("/v1/screen/{chain}/{address}")
    });
    // Warm up both paths (connections, caches).
    closed_loop(client.clone(), args.connections, 2, screen.clone()).await?;
    let (floor, floor_lat, _) =
        closed_loop(client.clone(), args.connections, args.seconds, whoami).await?;
    let (rate, lat, hits) =
        closed_loop(client.clone(), args.connections, args.seconds, screen).await?;
    println!(
        "whoami: {floor:.0} req/s, p50 {:.2} ms, p99 {:.2} ms ({} connections, {} s)",
        ms(percentile(&floor_lat, 0.5)),
        ms(percentile(&floor_lat, 0.99)),
        args.connections,
        args.seconds
    );
    println!(
        "lookup: {rate:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {hits} hits of {} ({:.0}% of the whoami throughput)",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        lat.len(),
        100.0 * rate / floor.max(1.0)
    );
    let share = 100.0 * rate / floor.max(1.0);
    println!(
        "target: single lookups at >= 50% of the whoami rate: {share:.0}% ({})",
        met(share >= 50.0)
    );
    let (p99, floor_p99) = (ms(percentile(&lat, 0.99)), ms(percentile(&floor_lat, 0.99)));
    println!(
        "target: single lookup p99 <= 2x whoami's p99 ({:.2} ms): {p99:.2} ms = {:.2}x ({})",
        2.0 * floor_p99,
        p99 / floor_p99.max(0.001),
        met(p99 <= 2.0 * floor_p99)
    );
    Ok(())
}

/// How a target line ends.
fn met(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "missed"
    }
}

async fn screen(args: ScreenArgs) -> anyhow::Result<()> {
    use super::screen::{screen_privately, Input};
    let client = ApiClient::new(args.connect.resolve()?)?;
    client.token().await?;
    let seed = [0x5a; 32];
    let (mut plain, mut private) = (Vec::new(), Vec::new());
    let (mut matched, mut private_matched) = (0, 0);
    let (mut plain_bytes, mut private_bytes) = ((0, 0), (0, 0));
    for request in 0..args.requests + 1 {
        let addresses: Vec<(&str, String)> = (0..args.batch_size)
            .map(|k| probe(request * args.batch_size + k, args.count))
            .collect();
        let items: Vec<Value> = addresses
            .iter()
            .map(|(chain, address)| json!({ "chain": chain, "address": address }))
            .collect();
        let body = json!({ "items": items });
        let sent = Instant::now();
        let reply = client
            .send(Method::POST, "/v1/screen", &[], Some(&body))
            .await?;
        let took = sent.elapsed();
        if reply.status != StatusCode::OK {
            bail!("screen: {} {}", reply.status, reply.body);
        }
        // The first request of each kind warms up; it is not counted.
        if request > 0 {
            plain.push(took);
            matched += reply.body["matched"].as_u64().unwrap_or(0);
            plain_bytes.0 += serde_json::to_vec(&body)?.len();
            plain_bytes.1 += reply.bytes;
        }
        if args.private {
            let inputs: Vec<Input> = addresses
                .iter()
                .map(|(chain, address)| Input {
                    origin: String::new(),
                    chain: Some((*chain).to_owned()),
                    address: address.clone(),
                })
                .collect();
            let sent = Instant::now();
            let report = screen_privately(&client, &inputs, &seed, None).await?;
            let took = sent.elapsed();
            if request > 0 {
                private.push(took);
                private_matched += report.matched() as u64;
                private_bytes.0 += report.bytes_sent;
                private_bytes.1 += report.bytes_received;
            }
        }
    }
    plain.sort();
    let addresses = (args.requests * args.batch_size).max(1);
    println!(
        "screen: {} requests of {} addresses, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {matched} matched; {:.0} bytes sent and {:.0} received per address",
        args.requests,
        args.batch_size,
        ms(percentile(&plain, 0.5)),
        ms(percentile(&plain, 0.99)),
        ms(plain.last().copied().unwrap_or_default()),
        plain_bytes.0 as f64 / addresses as f64,
        plain_bytes.1 as f64 / addresses as f64,
    );
    let p50 = ms(percentile(&plain, 0.5));
    println!(
        "target: bulk screening p50 < 150 ms: {p50:.0} ms ({})",
        met(p50 < 150.0)
    );
    if args.private {
        private.sort();
        println!(
            "screen (private): {} requests of {} addresses, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {private_matched} matched; {:.0} bytes sent and {:.0} received per address",
            args.requests,
            args.batch_size,
            ms(percentile(&private, 0.5)),
            ms(percentile(&private, 0.99)),
            ms(private.last().copied().unwrap_or_default()),
            private_bytes.0 as f64 / addresses as f64,
            private_bytes.1 as f64 / addresses as f64,
        );
        let ratio = ms(percentile(&private, 0.5)) / ms(percentile(&plain, 0.5)).max(0.001);
        println!(
            "target: private screening p50 within 2x of plain bulk screening: {ratio:.2}x ({})",
            met(ratio <= 2.0)
        );
        if private_matched != matched {
            bail!(
                "private screening matched {private_matched} addresses, plain screening {matched}"
            );
        }
    }
    Ok(())
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => ingest(args).await,
        BenchCommand::Lookup(args) => lookup(args).await,
        BenchCommand::Screen(args) => screen(args).await,
        BenchCommand::Alerts(args) => super::bench_alerts::alerts(args).await,
        BenchCommand::Console(args) => super::bench_console::console(args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::chains::{Chain, ChainAddress};

    #[test]
    fn synthetic_addresses_are_valid_on_their_chains() {
        for n in 0..200 {
            let (chain, address) = synthetic_address(n);
            let chain = Chain::parse(chain).unwrap();
            assert!(
                ChainAddress::parse(chain, &address).is_ok(),
                "{n}: {address}"
            );
        }
        assert_ne!(synthetic_address(1), synthetic_address(2));
    }
}

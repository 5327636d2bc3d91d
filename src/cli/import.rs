//! `tracewire import`: sends a CSV, JSON-lines or OFAC list file to a
//! server in atomic batches, as one organization, and reports which lines
//! were accepted and which were rejected and why.
//!
//! A batch with bad items is refused whole by the server (422, each bad item
//! by index): the importer sets those lines aside as rejected and sends the
//! rest again, so every good line is stored exactly once. Each attempt
//! carries an `Idempotency-Key`, so a retry after a lost answer is safe.
use crate::client::{ApiClient, ConnectArgs};
use crate::import::{self, Defaults, Format, ImportLine};
use anyhow::{bail, Context};
use awc::http::{Method, StatusCode};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Jsonl,
    Ofac,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A CSV file (the export's columns), a JSON-lines file (one record per
    /// line), or an OFAC list (sanctioned_addresses_<TICKER>.txt, or a
    /// directory of them).
    pub path: PathBuf,
    /// The file's format (default: from its name; a directory is OFAC).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Records per request (1 to 10,000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    /// TLP for lines that do not set one (default green; OFAC lists: clear).
    #[arg(long)]
    pub tlp: Option<String>,
    /// Category for lines that set none (repeat or separate with commas).
    #[arg(long = "category", value_delimiter = ',')]
    pub categories: Vec<String>,
    /// Provenance method for lines that do not set one (default import).
    #[arg(long)]
    pub method: Option<String>,
    /// Confidence 0–100 for lines that do not set one (default 50; OFAC: 100).
    #[arg(long)]
    pub confidence: Option<u8>,
    /// Share lines that name no audience with these organizations.
    #[arg(long = "share-with", value_delimiter = ',')]
    pub organizations: Vec<String>,
    /// Share lines that name no audience with these communities.
    #[arg(long = "community", value_delimiter = ',')]
    pub communities: Vec<String>,
    /// Source reference (case number, report URL) for lines that set none.
    #[arg(long)]
    pub source_reference: Option<String>,
    /// Write every rejected line's origin and reason to this file.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
}

/// What happened to the lines.
#[derive(Debug, Default)]
pub struct Summary {
    pub lines: usize,
    pub accepted: usize,
    /// (origin, reason), in input order.
    pub rejected: Vec<(String, String)>,
}

fn defaults(args: &ImportArgs, format: Format) -> Defaults {
    let mut defaults = match format {
        Format::Ofac => import::ofac_defaults(),
        _ => Defaults::default(),
    };
    if let Some(tlp) = &args.tlp {
        defaults.tlp = tlp.clone();
    }
    if !args.categories.is_empty() {
        defaults.categories = args.categories.clone();
    }
    if let Some(method) = &args.method {
        defaults.method = method.clone();
    }
    if let Some(confidence) = args.confidence {
        defaults.confidence = confidence;
    }
    if !args.organizations.is_empty() {
        defaults.organizations = args.organizations.clone();
    }
    if !args.communities.is_empty() {
        defaults.communities = args.communities.clone();
    }
    if args.source_reference.is_some() {
        defaults.source_reference = args.source_reference.clone();
    }
    defaults
}

/// A progress line on stderr: redrawn in place on a terminal, printed
/// every few seconds otherwise.
pub(super) struct Progress {
    total: usize,
    terminal: bool,
    started: Instant,
    last: Instant,
}

impl Progress {
    pub(super) fn new(total: usize) -> Progress {
        let now = Instant::now();
        Progress {
            total,
            terminal: std::io::stderr().is_terminal(),
            started: now,
            last: now,
        }
    }

    pub(super) fn show(&mut self, done: usize, accepted: usize, rejected: usize, last: bool) {
        if !self.terminal && !last && self.last.elapsed() < Duration::from_secs(5) {
            return;
        }
        self.last = Instant::now();
        const WIDTH: usize = 30;
        let filled = (done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH - filled));
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let text = format!(
            "[{bar}] {done}/{} lines, {accepted} accepted, {rejected} rejected, {rate:.0} lines/s",
            self.total
        );
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = write!(err, "\r{text}");
            if last {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{text}");
        }
    }
}

/// Posts one batch, retrying transport failures and 5xx answers with the
/// same idempotency key (so a batch the server stored is not stored twice).
async fn post_batch(
    client: &ApiClient,
    key: &str,
    items: &[Value],
) -> anyhow::Result<crate::client::Reply> {
    let body = json!({ "items": items });
    let headers = [("Idempotency-Key", key), ("Prefer", "return=minimal")];
    let mut wait = Duration::from_millis(500);
    for attempt in 1..=4 {
        match client
            .send(Method::POST, "/v1/records", &headers, Some(&body))
            .await
        {
            Ok(reply) if !reply.status.is_server_error() => return Ok(reply),
            Ok(reply) if attempt == 4 => return Ok(reply),
            Err(error) if attempt == 4 => return Err(error),
            Ok(reply) => eprintln!("\nserver answered {}; retrying in {wait:?}", reply.status),
            Err(error) => eprintln!("\n{error:#}; retrying in {wait:?}"),
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    unreachable!("the last attempt returns")
}

/// The reasons a 422 gives per batch position. An error that names no item
/// (the batch as a whole) applies to every item.
fn bad_items(problem: &Value, batch_len: usize) -> BTreeMap<usize, Vec<String>> {
    let mut bad: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for error in problem["errors"].as_array().into_iter().flatten() {
        let message = format!(
            "{}: {}",
            error["field"].as_str().unwrap_or("item"),
            error["message"].as_str().unwrap_or("invalid")
        );
        match error["index"].as_u64() {
            Some(index) => bad.entry(index as usize).or_default().push(message),
            None => {
                for position in 0..batch_len {
                    bad.entry(position).or_default().push(message.clone());
                }
            }
        }
    }
    bad
}

/// Sends `lines` and returns what happened to each.
pub async fn send(
    client: &ApiClient,
    lines: Vec<ImportLine>,
    batch_size: usize,
) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        lines: lines.len(),
        ..Summary::default()
    };
    let run = uuid::Uuid::now_v7();
    let mut reasons: BTreeMap<usize, String> = BTreeMap::new();
    let mut valid = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        match &line.item {
            Ok(item) => valid.push((n, item.clone())),
            Err(reason) => {
                reasons.insert(n, reason.clone());
            }
        }
    }
    let mut progress = Progress::new(lines.len());
    for (batch_number, chunk) in valid.chunks(batch_size).enumerate() {
        let mut batch: Vec<(usize, Value)> = chunk.to_vec();
        for attempt in 0.. {
            if batch.is_empty() {
                break;
            }
            let key = format!("import-{run}-{batch_number}-{attempt}");
            let items: Vec<Value> = batch.iter().map(|(_, item)| item.clone()).collect();
            let reply = post_batch(client, &key, &items).await?;
            if reply.status == StatusCode::CREATED {
                summary.accepted += batch.len();
                break;
            }
            if reply.status != StatusCode::UNPROCESSABLE_ENTITY {
                bail!(
                    "the server refused a batch ({}): {}",
                    reply.status,
                    reply.body
                );
            }
            // Set the named bad items aside and send the rest again.
            let bad = bad_items(&reply.body, batch.len());
            if bad.is_empty() {
                bail!(
                    "the server refused a batch without naming items: {}",
                    reply.body
                );
            }
            let mut rest = Vec::with_capacity(batch.len());
            for (position, (n, item)) in batch.into_iter().enumerate() {
                match bad.get(&position) {
                    Some(messages) => {
                        reasons.insert(n, messages.join("; "));
                    }
                    None => rest.push((n, item)),
                }
            }
            batch = rest;
        }
        progress.show(
            summary.accepted + reasons.len(),
            summary.accepted,
            reasons.len(),
            false,
        );
    }
    progress.show(
        summary.accepted + reasons.len(),
        summary.accepted,
        reasons.len(),
        true,
    );
    summary.rejected = reasons
        .into_iter()
        .map(|(n, reason)| (lines[n].origin.clone(), reason))
        .collect();
    Ok(summary)
}

/// Runs the command; the summary goes to stdout.
pub async fn run(args: ImportArgs) -> anyhow::Result<Summary> {
    let format = match args.format {
        Some(FormatArg::Csv) => Format::Csv,
        Some(FormatArg::Jsonl) => Format::JsonLines,
        Some(FormatArg::Ofac) => Format::Ofac,
        None => Format::guess(&args.path).with_context(|| {
            format!(
                "{}: cannot tell the format from the name; pass --format csv|jsonl|ofac",
                args.path.display()
            )
        })?,
    };
    let defaults = defaults(&args, format);
    let lines = import::read(&args.path, format, &defaults)
        .with_context(|| format!("cannot read {}", args.path.display()))?;
    let client = ApiClient::new(args.connect.resolve()?)?;
    let started = Instant::now();
    let summary = send(&client, lines, args.batch_size as usize).await?;
    println!(
        "imported {}: {} lines, {} accepted, {} rejected ({:.1} s)",
        args.path.display(),
        summary.lines,
        summary.accepted,
        summary.rejected.len(),
        started.elapsed().as_secs_f64()
    );
    for (origin, reason) in summary.rejected.iter().take(20) {
        println!("  rejected {origin}: {reason}");
    }
    if summary.rejected.len() > 20 {
        println!("  … and {} more", summary.rejected.len() - 20);
    }
    if let Some(path) = &args.rejects {
        let mut text = String::new();
        for (origin, reason) in &summary.rejected {
            text.push_str(&format!("{origin}\t{reason}\n"));
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(summary)
}

//! `tracewire screen`: the command a compliance team runs over its
//! addresses, nightly or by hand.
//!
//! Private by default: each address is canonicalized here, by the same code
//! the server uses ([`lookup_forms`] and its link keys), each link key is
//! hashed ([`private_screening::key_hash`]), and only the 20-bit bucket
//! prefixes of those hashes are sent, padded with decoys ([`padded_size`]).
//! The server answers every entry of those buckets the organization may
//! read; the matching against the full hashes happens here. `--plain`
//! sends the addresses to `POST /v1/screen` instead.
//!
//! Decoys come from a seed kept on this machine (`--decoy-seed`), so a job
//! that screens the same book every night sends the same decoys every
//! night: comparing two nights' requests does not separate the real
//! prefixes from the decoys.
use super::progress::Progress;
use crate::client::{ApiClient, ConnectArgs};
use crate::domain::chains::lookup_forms;
use crate::domain::private_screening as protocol;
use crate::screening::private::{PrivateScreenResponse, MAX_PRIVATE_PREFIXES};
use crate::screening::{ScreenResult, MAX_SCREEN_BATCH};
use anyhow::{bail, Context};
use awc::http::{Method, StatusCode};
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns, for people.
    Table,
    /// One row per address, lists joined with `;`.
    Csv,
    /// One JSON object per address.
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ScreenArgs {
    /// Addresses: one per line (blank lines and lines starting with `#` are
    /// skipped), or a CSV file with a header when --column is given. `-` or
    /// nothing reads standard input.
    pub path: Option<PathBuf>,
    /// Read a CSV file and take the address from this column.
    #[arg(long)]
    pub column: Option<String>,
    /// With --column: take each address's chain from this column.
    #[arg(long)]
    pub chain_column: Option<String>,
    /// The chain (id, alias or asset ticker) of every address; without it an
    /// address is matched on every chain where it is valid.
    #[arg(long)]
    pub chain: Option<String>,
    /// Send the addresses themselves (POST /v1/screen) instead of hash prefixes.
    #[arg(long)]
    pub plain: bool,
    /// How to write the report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub report: ReportFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Report only the addresses that matched (and the invalid ones).
    #[arg(long)]
    pub matches_only: bool,
    /// The file holding this machine's decoy seed (created on first use,
    /// mode 0600). Default: $HOME/.config/tracewire/screening-decoy-seed;
    /// with --demo-org, <demo-dir>/<org>-screening-decoy-seed.
    #[arg(long, env = "TRACEWIRE_DECOY_SEED")]
    pub decoy_seed: Option<PathBuf>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// One address to screen: where it came from, and what was given.
#[derive(Debug, Clone)]
pub struct Input {
    /// `<file>:<line>`.
    pub origin: String,
    pub chain: Option<String>,
    pub address: String,
}

/// What the organization may see about one address.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Screened {
    pub origin: String,
    pub input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Why the address could not be screened (it was not sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub matched: bool,
    pub records: Vec<String>,
    pub wallets: Vec<String>,
    pub entities: Vec<String>,
    pub categories: Vec<String>,
    pub highest_confidence: Option<u8>,
    pub sources: Vec<String>,
    /// Visible sighting reports and the sum of their counts.
    pub sighting_reports: usize,
    pub sighting_count: u64,
}

/// The report of one run, and what crossed the wire.
#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Screened>,
    pub requests: usize,
    /// Prefixes sent, decoys included (private mode).
    pub prefixes_sent: usize,
    pub decoys_sent: usize,
    pub bytes_sent: usize,
    pub bytes_received: usize,
}

impl Report {
    pub fn matched(&self) -> usize {
        self.rows.iter().filter(|r| r.matched).count()
    }

    pub fn invalid(&self) -> usize {
        self.rows.iter().filter(|r| r.error.is_some()).count()
    }
}

/// Reads the addresses of `args`' input.
pub fn read_inputs(args: &ScreenArgs) -> anyhow::Result<Vec<Input>> {
    let (name, text) = match args.path.as_ref().filter(|p| p.as_os_str() != "-") {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read standard input")?;
            ("stdin".to_owned(), text)
        }
    };
    let mut inputs = Vec::new();
    match &args.column {
        None => {
            if args.chain_column.is_some() {
                bail!("--chain-column needs --column");
            }
            for (n, line) in text.lines().enumerate() {
                let address = line.trim();
                if address.is_empty() || address.starts_with('#') {
                    continue;
                }
                inputs.push(Input {
                    origin: format!("{name}:{}", n + 1),
                    chain: args.chain.clone(),
                    address: address.to_owned(),
                });
            }
        }
        Some(column) => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(text.as_bytes());
            let headers = reader
                .headers()
                .context("cannot read the CSV header")?
                .clone();
            let find = |wanted: &str| {
                headers
                    .iter()
                    .position(|h| h.trim() == wanted)
                    .with_context(|| format!("{name}: no column {wanted:?} in the header"))
            };
            let address_at = find(column)?;
            let chain_at = args.chain_column.as_deref().map(find).transpose()?;
            for (n, row) in reader.records().enumerate() {
                let row = row.with_context(|| format!("{name}:{}: not CSV", n + 2))?;
                let address = row.get(address_at).unwrap_or("").trim();
                if address.is_empty() {
                    continue;
                }
                let chain = chain_at
                    .and_then(|at| row.get(at))
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .or_else(|| args.chain.clone());
                inputs.push(Input {
                    origin: format!("{name}:{}", n + 2),
                    chain,
                    address: address.to_owned(),
                });
            }
        }
    }
    Ok(inputs)
}

/// The decoy seed kept in `path` (made on first use).
pub fn decoy_seed(path: Option<&PathBuf>) -> anyhow::Result<[u8; 32]> {
    let path = match path {
        Some(path) => path.clone(),
        None => {
            let home =
                std::env::var_os("HOME").context("HOME is not set: pass --decoy-seed FILE")?;
            PathBuf::from(home).join(".config/tracewire/screening-decoy-seed")
        }
    };
    if let Ok(text) = std::fs::read_to_string(&path) {
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .with_context(|| format!("{}: not a decoy seed (64 hex characters)", path.display()))?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes);
        return Ok(seed);
    }
    let mut seed = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
        .map_err(|_| anyhow::anyhow!("no random numbers for the decoy seed"))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{}", hex::encode(seed))?;
    Ok(seed)
}

/// How many prefixes a request with `real` real ones carries: the next
/// power of two up to 1,024 (at least 64), then the next multiple of 1,024
/// (at most [`MAX_PRIVATE_PREFIXES`]). Every prefix costs the server its
/// bucket, so above 1,024 the size is rounded to 1,024, not doubled.
pub fn padded_size(real: usize) -> usize {
    let size = if real <= 1024 {
        real.max(64).next_power_of_two()
    } else {
        real.div_ceil(1024) * 1024
    };
    size.min(MAX_PRIVATE_PREFIXES).max(real)
}

/// The prefixes of one request: `real` plus decoys up to
/// [`padded_size`], in order. The
/// decoys are the seed's sequence, skipping real buckets, so the same real
/// set always gets the same decoys.
pub fn padded(real: &BTreeSet<u32>, seed: &[u8; 32]) -> (Vec<String>, usize) {
    let target = padded_size(real.len());
    let mut all = real.clone();
    let mut counter: u64 = 0;
    while all.len() < target {
        let mut hasher = Sha256::new();
        hasher.update(b"tracewire-private-screening-decoy-v1:");
        hasher.update(seed);
        hasher.update(counter.to_be_bytes());
        counter += 1;
        all.insert(protocol::bucket_of(&hasher.finalize().into()));
    }
    let decoys = all.len() - real.len();
    (all.into_iter().map(protocol::prefix_hex).collect(), decoys)
}

/// Screens `inputs` privately: only padded hash prefixes are sent.
pub async fn screen_privately(
    client: &ApiClient,
    inputs: &[Input],
    seed: &[u8; 32],
    mut progress: Option<&mut Progress>,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    // Each input's link-key hashes (or why it is invalid).
    let mut hashes_of: Vec<Result<Vec<[u8; 32]>, String>> = Vec::with_capacity(inputs.len());
    for input in inputs {
        hashes_of.push(
            lookup_forms(input.chain.as_deref(), &input.address).map(|forms| {
                let keys: BTreeSet<String> = forms.iter().flat_map(|f| f.link_keys()).collect();
                keys.iter().map(|k| protocol::key_hash(k)).collect()
            }),
        );
    }
    let buckets: BTreeSet<u32> = hashes_of
        .iter()
        .flatten()
        .flatten()
        .map(protocol::bucket_of)
        .collect();
    // The answers, by full hash.
    let mut entries = HashMap::new();
    let buckets: Vec<u32> = buckets.into_iter().collect();
    let mut done = 0;
    for chunk in buckets.chunks(MAX_PRIVATE_PREFIXES) {
        let real: BTreeSet<u32> = chunk.iter().copied().collect();
        let (prefixes, decoys) = padded(&real, seed);
        let body = json!({ "version": protocol::VERSION, "prefixes": prefixes });
        report.bytes_sent += serde_json::to_vec(&body)?.len();
        report.prefixes_sent += prefixes.len();
        report.decoys_sent += decoys;
        report.requests += 1;
        let reply = client.post_raw("/v1/screen/private", &body).await?;
        report.bytes_received += reply.body.len();
        if reply.status != StatusCode::OK {
            bail!(
                "the server refused the request ({}): {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        let answer: PrivateScreenResponse = serde_json::from_slice(&reply.body)
            .context("the server's answer is not a private screening response")?;
        for entry in answer.entries {
            entries.insert(entry.hash.clone(), entry);
        }
        done += chunk.len();
        if let Some(progress) = progress.as_deref_mut() {
            progress.show(
                done * inputs.len() / buckets.len().max(1),
                &format!("{} prefixes sent", report.prefixes_sent),
                false,
            );
        }
    }
    for (input, hashes) in inputs.iter().zip(hashes_of) {
        let mut row = Screened {
            origin: input.origin.clone(),
            input: input.address.clone(),
            chain: input.chain.clone(),
            ..Screened::default()
        };
        match hashes {
            Err(reason) => row.error = Some(reason),
            Ok(hashes) => {
                let mut merged = Merge::default();
                for hash in hashes {
                    if let Some(entry) = entries.get(&hex::encode(hash)) {
                        merged.matched |= entry.matched;
                        merged.records.extend(entry.records.iter().cloned());
                        merged.wallets.extend(entry.wallets.iter().cloned());
                        merged.entities.extend(entry.entities.iter().cloned());
                        merged
                            .categories
                            .extend(entry.categories.iter().map(|c| c.as_str().to_owned()));
                        merged.sources.extend(entry.sources.iter().cloned());
                        merged.highest = merged.highest.max(entry.highest_confidence);
                        for seen in &entry.sightings {
                            merged.sightings.insert(seen.id.clone(), seen.count);
                        }
                    }
                }
                merged.fill(&mut row);
            }
        }
        report.rows.push(row);
    }
    Ok(report)
}

/// An address's entries put together (an address may have several link keys).
#[derive(Default)]
struct Merge {
    matched: bool,
    records: BTreeSet<String>,
    wallets: BTreeSet<String>,
    entities: BTreeSet<String>,
    categories: BTreeSet<String>,
    sources: BTreeSet<String>,
    highest: Option<u8>,
    /// Sighting id -> count, so a sighting met twice counts once.
    sightings: BTreeMap<String, u32>,
}

impl Merge {
    fn fill(self, row: &mut Screened) {
        row.matched = self.matched;
        row.records = self.records.into_iter().collect();
        row.wallets = self.wallets.into_iter().collect();
        row.entities = self.entities.into_iter().collect();
        row.categories = self.categories.into_iter().collect();
        row.sources = self.sources.into_iter().collect();
        row.highest_confidence = self.highest;
        row.sighting_reports = self.sightings.len();
        row.sighting_count = self.sightings.values().map(|c| u64::from(*c)).sum();
    }
}

/// Screens `inputs` in the clear, 10,000 per request.
pub async fn screen_plainly(
    client: &ApiClient,
    inputs: &[Input],
    mut progress: Option<&mut Progress>,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    for chunk in inputs.chunks(MAX_SCREEN_BATCH) {
        let items: Vec<_> = chunk
            .iter()
            .map(|i| json!({ "chain": i.chain, "address": i.address }))
            .collect();
        let body = json!({ "items": items });
        report.bytes_sent += serde_json::to_vec(&body)?.len();
        report.requests += 1;
        let reply = client
            .send(Method::POST, "/v1/screen", &[], Some(&body))
            .await?;
        report.bytes_received += reply.bytes;
        if reply.status != StatusCode::OK {
            bail!(
                "the server refused the request ({}): {}",
                reply.status,
                reply.body
            );
        }
        let results: Vec<ScreenResult> = serde_json::from_value(reply.body["items"].clone())
            .context("the server's answer is not a screening response")?;
        for (input, result) in chunk.iter().zip(results) {
            let mut merged = Merge {
                matched: result.matched,
                highest: result.highest_confidence,
                ..Merge::default()
            };
            merged.records = result
                .records
                .iter()
                .map(|r| r.content.id.clone())
                .collect();
            merged.wallets = result
                .wallets
                .iter()
                .map(|l| l.record.content.id.clone())
                .collect();
            merged.entities = result
                .entities
                .iter()
                .map(|l| l.record.content.id.clone())
                .collect();
            merged.categories = result
                .categories
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect();
            merged.sources = result.sources.iter().cloned().collect();
            let mut row = Screened {
                origin: input.origin.clone(),
                input: input.address.clone(),
                chain: input.chain.clone(),
                error: result.error.map(|e| e.message),
                ..Screened::default()
            };
            merged.fill(&mut row);
            row.sighting_reports = result.sightings.reports;
            row.sighting_count = result.sightings.count;
            report.rows.push(row);
        }
        if let Some(progress) = progress.as_deref_mut() {
            progress.show(
                report.rows.len(),
                &format!("{} matched", report.matched()),
                false,
            );
        }
    }
    Ok(report)
}

/// Writes the report rows in `format`.
pub fn write_report(
    out: &mut dyn Write,
    rows: &[&Screened],
    format: ReportFormat,
) -> anyhow::Result<()> {
    let joined = |list: &[String]| list.join(";");
    match format {
        ReportFormat::Jsonl => {
            for row in rows {
                serde_json::to_writer(&mut *out, row)?;
                writeln!(out)?;
            }
        }
        ReportFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record([
                "origin",
                "input",
                "chain",
                "error",
                "matched",
                "categories",
                "highest_confidence",
                "sources",
                "records",
                "wallets",
                "entities",
                "sighting_reports",
                "sighting_count",
            ])?;
            for row in rows {
                writer.write_record([
                    row.origin.clone(),
                    row.input.clone(),
                    row.chain.clone().unwrap_or_default(),
                    row.error.clone().unwrap_or_default(),
                    row.matched.to_string(),
                    joined(&row.categories),
                    row.highest_confidence
                        .map(|c| c.to_string())
                        .unwrap_or_default(),
                    joined(&row.sources),
                    joined(&row.records),
                    joined(&row.wallets),
                    joined(&row.entities),
                    row.sighting_reports.to_string(),
                    row.sighting_count.to_string(),
                ])?;
            }
            writer.flush()?;
        }
        ReportFormat::Table => {
            let header = [
                "address",
                "matched",
                "categories",
                "confidence",
                "sources",
                "sightings",
                "records",
            ];
            let cells: Vec<[String; 7]> = rows
                .iter()
                .map(|row| {
                    let matched = match (&row.error, row.matched) {
                        (Some(error), _) => format!("invalid: {error}"),
                        (None, true) => "MATCH".to_owned(),
                        (None, false) => "-".to_owned(),
                    };
                    [
                        row.input.clone(),
                        matched,
                        row.categories.join(","),
                        row.highest_confidence
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                        row.sources.join(","),
                        if row.sighting_reports > 0 {
                            format!("{} ({} seen)", row.sighting_reports, row.sighting_count)
                        } else {
                            String::new()
                        },
                        row.records.join(","),
                    ]
                })
                .collect();
            let mut widths = header.map(|h| h.chars().count());
            for row in &cells {
                for (width, cell) in widths.iter_mut().zip(row) {
                    *width = (*width).max(cell.chars().count());
                }
            }
            let line = |cells: &[String]| {
                let padded: Vec<String> = cells
                    .iter()
                    .zip(&widths)
                    .map(|(cell, width)| format!("{cell:<width$}"))
                    .collect();
                padded.join("  ").trim_end().to_owned()
            };
            writeln!(out, "{}", line(&header.map(str::to_owned)))?;
            for row in &cells {
                writeln!(out, "{}", line(row))?;
            }
        }
    }
    Ok(())
}

/// Runs the command: the report to stdout (or --output), the summary to stderr.
pub async fn run(args: ScreenArgs) -> anyhow::Result<Report> {
    let inputs = read_inputs(&args)?;
    if inputs.is_empty() {
        bail!("no addresses to screen");
    }
    let client = ApiClient::new(args.connect.resolve()?)?;
    let started = Instant::now();
    let mut progress = Progress::new(inputs.len(), "addresses");
    let report = if args.plain {
        screen_plainly(&client, &inputs, Some(&mut progress)).await?
    } else {
        let demo_seed = args.connect.demo_org.as_ref().map(|org| {
            args.connect
                .demo_dir
                .join(format!("{org}-screening-decoy-seed"))
        });
        let seed = decoy_seed(args.decoy_seed.as_ref().or(demo_seed.as_ref()))?;
        screen_privately(&client, &inputs, &seed, Some(&mut progress)).await?
    };
    progress.show(inputs.len(), &format!("{} matched", report.matched()), true);
    let rows: Vec<&Screened> = report
        .rows
        .iter()
        .filter(|r| !args.matches_only || r.matched || r.error.is_some())
        .collect();
    match &args.output {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            write_report(&mut file, &rows, args.report)?;
        }
        None => write_report(&mut std::io::stdout().lock(), &rows, args.report)?,
    }
    let how = if args.plain {
        "in the clear".to_owned()
    } else {
        format!(
            "privately ({} prefixes sent, {} of them decoys)",
            report.prefixes_sent, report.decoys_sent
        )
    };
    eprintln!(
        "screened {} addresses {how} in {} request(s), {:.1} s: {} matched, {} invalid; {} bytes sent, {} received",
        report.rows.len(),
        report.requests,
        started.elapsed().as_secs_f64(),
        report.matched(),
        report.invalid(),
        report.bytes_sent,
        report.bytes_received,
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_reaches_a_power_of_two_with_stable_decoys() {
        let seed = [7u8; 32];
        let real: BTreeSet<u32> = [1, 2, 3].into_iter().collect();
        let (prefixes, decoys) = padded(&real, &seed);
        assert_eq!(prefixes.len(), 64);
        assert_eq!(decoys, 61);
        for bucket in &real {
            assert!(prefixes.contains(&protocol::prefix_hex(*bucket)));
        }
        // The same set gets the same request, night after night.
        assert_eq!(padded(&real, &seed).0, prefixes);
        let more: BTreeSet<u32> = (0..100).collect();
        assert_eq!(padded(&more, &seed).0.len(), 128);
        assert_eq!(padded_size(1_000), 1_024);
        assert_eq!(padded_size(1_025), 2_048);
        assert_eq!(padded_size(9_000), 9_216);
        assert_eq!(padded_size(9_500), 10_000);
        assert_eq!(padded_size(10_000), 10_000);
        let full: BTreeSet<u32> = (0..MAX_PRIVATE_PREFIXES as u32).collect();
        assert_eq!(
            padded(&full, &seed),
            (full.iter().map(|b| protocol::prefix_hex(*b)).collect(), 0)
        );
        // Another seed, other decoys.
        assert_ne!(padded(&real, &[8u8; 32]).0, prefixes);
    }
}
